import { issuerOf } from '@mxp/service-kit';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORM, newClient, servedJwks, startApp, type TestApp } from './support.js';

let testApp: TestApp;

beforeAll(async () => {
  testApp = await startApp();
});
afterAll(async () => {
  await testApp?.close();
});

describe('GET /.well-known/oauth-authorization-server (RFC 8414)', () => {
  it('describes this server from its issuer', async () => {
    const issuer = issuerOf(testApp.config);
    expect(issuer).toBe('http://127.0.0.1:3001');
    const response = await testApp.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.json()).toEqual({
      issuer,
      token_endpoint: `${issuer}/oauth/token`,
      jwks_uri: `${issuer}/.well-known/jwks.json`,
      introspection_endpoint: `${issuer}/oauth/introspect`,
      revocation_endpoint: `${issuer}/oauth/revoke`,
      grant_types_supported: ['client_credentials'],
      response_types_supported: [],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    });
  });

  it('names the issuer that the tokens carry', async () => {
    const client = await newClient(testApp);
    const token = (await testApp.app.inject({ method: 'POST', url: '/api/auth/token', payload: client })).json().data
      .token;
    const metadata = (
      await testApp.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })
    ).json();
    expect(decodeJwt(token).iss).toBe(metadata.issuer);
  });

  it('advertises endpoints this server actually serves', async () => {
    const metadata = (
      await testApp.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })
    ).json();
    for (const name of ['token_endpoint', 'introspection_endpoint', 'revocation_endpoint']) {
      const url = new URL(metadata[name]);
      expect(url.origin).toBe(metadata.issuer);
      const response = await testApp.app.inject({ method: 'POST', url: url.pathname, headers: FORM, payload: '' });
      // The endpoint exists and answers in the OAuth shape (here: no client authentication or parameters).
      expect(response.statusCode, name).not.toBe(404);
      expect(response.json(), name).toHaveProperty('error');
    }
    const jwks = await testApp.app.inject({ method: 'GET', url: new URL(metadata.jwks_uri).pathname });
    expect(jwks.statusCode).toBe(200);
    expect(jwks.json().keys).toHaveLength(1);
  });
});

describe('GET /.well-known/jwks.json', () => {
  it('serves the same public signing key at the root and under /api/auth, never a private member', async () => {
    const root = await servedJwks(testApp);
    const prefixed = await servedJwks(testApp, '/api/auth/.well-known/jwks.json');
    expect(prefixed.jwks).toEqual(root.jwks);
    expect(root.jwks.keys).toEqual([
      {
        kty: 'EC',
        crv: 'P-256',
        x: expect.any(String),
        y: expect.any(String),
        kid: testApp.app.signingKeys.signingKey.kid,
        alg: 'ES256',
        use: 'sig',
      },
    ]);
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(root.jwks.keys[0]).not.toHaveProperty(member);
  });
});
