import { decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth, FORM, form, newClient, startApp, type TestApp, type TestClient } from './support.js';

// HS256 by configuration, with an explicit issuer (trailing slash included) instead of http://HOST:PORT.
const SECRET = 'hs256-test-secret-0123456789-abcdefghij';
const ISSUER = 'https://auth.example.com/';

let testApp: TestApp;
let client: TestClient;

beforeAll(async () => {
  testApp = await startApp({ JWT_ALGORITHM: 'HS256', JWT_HS256_SECRET: SECRET, JWT_ISSUER: ISSUER });
  client = await newClient(testApp, { name: 'HS256 client', scopes: ['orders:read'] });
});
afterAll(async () => {
  await testApp?.close();
});

const verifyOptions = { issuer: ISSUER, audience: 'maxpoint-api', typ: 'at+jwt', algorithms: ['HS256'] };

describe('JWT_ALGORITHM=HS256 with JWT_ISSUER', () => {
  it('signs /api/auth/token tokens with HS256 and the shared secret', async () => {
    const response = await testApp.app.inject({ method: 'POST', url: '/api/auth/token', payload: client });
    expect(response.statusCode).toBe(200);
    const { token } = response.json().data;
    expect(decodeProtectedHeader(token)).toEqual({
      alg: 'HS256',
      typ: 'at+jwt',
      kid: expect.stringMatching(/^hs256-/),
    });
    const { payload } = await jwtVerify(token, new TextEncoder().encode(SECRET), verifyOptions);
    expect(payload).toMatchObject({
      iss: ISSUER,
      sub: client.clientId,
      client_id: client.clientId,
      scope: 'orders:read',
    });
    // Another secret does not verify it.
    await expect(jwtVerify(token, new TextEncoder().encode(`${SECRET}x`), verifyOptions)).rejects.toThrow();
  });

  it('signs /oauth/token tokens with HS256 too, and honours them at token/info and introspection', async () => {
    const response = await testApp.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { ...FORM, authorization: basicAuth(client.clientId, client.clientSecret) },
      payload: form({ grant_type: 'client_credentials' }),
    });
    const token = response.json().access_token;
    await expect(jwtVerify(token, new TextEncoder().encode(SECRET), verifyOptions)).resolves.toBeTruthy();

    const info = await testApp.app.inject({
      method: 'GET',
      url: '/api/auth/token/info',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(info.statusCode).toBe(200);
    expect(info.json().data.issuer).toBe(ISSUER);
    const introspection = await testApp.app.inject({
      method: 'POST',
      url: '/oauth/introspect',
      headers: { ...FORM, authorization: basicAuth(client.clientId, client.clientSecret) },
      payload: form({ token }),
    });
    expect(introspection.json()).toMatchObject({ active: true, iss: ISSUER });
  });

  it('publishes no key in the JWKS (the secret is never published)', async () => {
    for (const url of ['/.well-known/jwks.json', '/api/auth/.well-known/jwks.json']) {
      const response = await testApp.app.inject({ method: 'GET', url });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ keys: [] });
      expect(response.body).not.toContain(Buffer.from(SECRET).toString('base64url'));
    }
  });

  it('derives the metadata from JWT_ISSUER without doubling the slash', async () => {
    const response = await testApp.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' });
    expect(response.json()).toMatchObject({
      issuer: ISSUER,
      token_endpoint: 'https://auth.example.com/oauth/token',
      jwks_uri: 'https://auth.example.com/.well-known/jwks.json',
      introspection_endpoint: 'https://auth.example.com/oauth/introspect',
      revocation_endpoint: 'https://auth.example.com/oauth/revoke',
    });
  });
});
