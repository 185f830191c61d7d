import type { webcrypto } from 'node:crypto';
import { issuerOf } from '@mxp/service-kit';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueAccessToken } from '../../src/services/access-tokens.js';
import { setClientStatus } from '../../src/services/clients.js';
import {
  atTime,
  b64json,
  basicAuth,
  FORM,
  form,
  newClient,
  startApp,
  type TestApp,
  type TestClient,
  untilNotified,
} from './support.js';

const UNAUTHORIZED = { code: 401, status: 'error', message: 'Token de acceso inválido o ausente' };

let testApp: TestApp;
let client: TestClient;

beforeAll(async () => {
  testApp = await startApp();
  client = await newClient(testApp, { name: 'Info client', scopes: ['orders:read', 'stock:read'] });
});
afterAll(async () => {
  await testApp?.close();
});

async function issue(credentials: TestClient = client): Promise<string> {
  const response = await testApp.app.inject({ method: 'POST', url: '/api/auth/token', payload: credentials });
  expect(response.statusCode).toBe(200);
  return response.json().data.token;
}

function info(authorization?: string) {
  return testApp.app.inject({
    method: 'GET',
    url: '/api/auth/token/info',
    headers: authorization === undefined ? {} : { authorization },
  });
}

function expectRefused(response: Awaited<ReturnType<typeof info>>, challenge: RegExp = /^Bearer/) {
  expect(response.statusCode).toBe(401);
  expect(response.json()).toEqual(UNAUTHORIZED);
  expect(response.headers['www-authenticate']).toMatch(challenge);
}

/** Signs claims of our own choosing with the service's key (or another one), as a forger or a sibling would. */
async function signWith(
  key: webcrypto.CryptoKey,
  kid: string,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: issuerOf(testApp.config),
    sub: client.clientId,
    client_id: client.clientId,
    aud: 'maxpoint-api',
    iat: now,
    exp: now + 600,
    jti: crypto.randomUUID(),
    ...claims,
  })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt', ...header })
    .sign(key);
}

describe('GET /api/auth/token/info: a valid token', () => {
  it("answers the token's client, scopes, audience, issuer and lifetime", async () => {
    const token = await issue();
    const claims = decodeJwt(token);
    const response = await info(`Bearer ${token}`);
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = response.json();
    expect(body).toEqual({
      code: 200,
      status: 'success',
      message: 'Token válido',
      data: {
        client_id: client.clientId,
        client_name: 'Info client',
        scopes: ['orders:read', 'stock:read'],
        audience: 'maxpoint-api',
        issuer: issuerOf(testApp.config),
        jti: claims.jti,
        issued_at: new Date((claims.iat as number) * 1000).toISOString(),
        expire_in: new Date((claims.exp as number) * 1000).toISOString().slice(0, 19).replace('T', ' '),
        expires_in: expect.any(Number),
      },
    });
    expect(body.data.expires_in).toBeGreaterThan(3590);
    expect(body.data.expires_in).toBeLessThanOrEqual(3600);
  });

  it('counts the seconds left on the clock (frozen clock)', async () => {
    const issuedAt = Date.UTC(2030, 0, 15, 12, 0, 0);
    const token = await atTime(issuedAt, () => issue());
    expect(decodeJwt(token).iat).toBe(issuedAt / 1000);
    const later = await atTime(issuedAt + 100_000, () => info(`Bearer ${token}`));
    expect(later.json().data).toMatchObject({
      issued_at: '2030-01-15T12:00:00.000Z',
      expire_in: '2030-01-15 13:00:00',
      expires_in: 3500,
    });
    // Valid until the last second before `exp`, refused from `exp` on.
    const lastSecond = await atTime(issuedAt + 3_599_000, () => info(`Bearer ${token}`));
    expect(lastSecond.statusCode).toBe(200);
    expect(lastSecond.json().data.expires_in).toBe(1);
    expectRefused(await atTime(issuedAt + 3_600_000, () => info(`Bearer ${token}`)), /^Bearer error="invalid_token"/);
  });

  it('answers an empty scopes list and the client audience for a client without scopes', async () => {
    const plain = await newClient(testApp, { name: 'Plain', audience: 'billing-api' });
    const response = await info(`Bearer ${await issue(plain)}`);
    expect(response.json().data).toMatchObject({ client_id: plain.clientId, scopes: [], audience: 'billing-api' });
  });

  it('accepts the scheme in any case', async () => {
    const token = await issue();
    expect((await info(`bearer ${token}`)).statusCode).toBe(200);
    expect((await info(`BEARER ${token}`)).statusCode).toBe(200);
  });
});

describe('GET /api/auth/token/info: refused tokens (401 with WWW-Authenticate)', () => {
  it('refuses a request without a token, or a header that is not a Bearer token', async () => {
    const token = await issue();
    expectRefused(await info());
    expectRefused(await info(''));
    expectRefused(await info('Bearer'));
    expectRefused(await info('Bearer '));
    expectRefused(await info(`Basic ${token}`));
    expectRefused(await info(`Bearer ${token} extra`));
    expectRefused(await info(token));
  });

  it.each([
    ['not a JWT', 'abc'],
    ['two parts', 'abc.def'],
    ['a garbage header', `xx.${b64json({ client_id: 'x' })}.sig`],
    ['a JSON array payload', `${b64json({ alg: 'ES256' })}.${b64json([])}.sig`],
  ])('refuses %s', async (_name, token) => {
    expectRefused(await info(`Bearer ${token}`), /^Bearer error="invalid_token"/);
  });

  it('refuses a token whose signature was altered', async () => {
    const token = await issue();
    const [header, payload, signature = ''] = token.split('.');
    const flipped = `${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    expectRefused(await info(`Bearer ${header}.${payload}.${flipped}`), /invalid_token/);
  });

  it('refuses a token whose claims were altered after signing', async () => {
    const token = await issue();
    const [header, , signature] = token.split('.');
    const claims = { ...decodeJwt(token), scope: 'orders:read stock:read admin' };
    expectRefused(await info(`Bearer ${header}.${b64json(claims)}.${signature}`), /invalid_token/);
  });

  it('refuses a token signed by another key that claims the same kid', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    expect((await exportJWK(privateKey)).d).toBeDefined();
    const forged = await signWith(privateKey, testApp.app.signingKeys.signingKey.kid, {});
    expectRefused(await info(`Bearer ${forged}`), /invalid_token/);
  });

  it('refuses an unsigned token (alg none)', async () => {
    const payload = b64json({ ...decodeJwt(await issue()) });
    const header = b64json({ alg: 'none', typ: 'at+jwt', kid: testApp.app.signingKeys.signingKey.kid });
    expectRefused(await info(`Bearer ${header}.${payload}.`));
  });

  it('refuses a token of another issuer, even signed with the same key', async () => {
    const stored = await testApp.db.apiClient.findUniqueOrThrow({ where: { id: client.clientId } });
    const { token } = await issueAccessToken(testApp.app.signingKeys, stored, ['orders:read'], {
      issuer: 'https://other-issuer.example',
      defaultAudience: 'maxpoint-api',
    });
    // The same token from this issuer is accepted: only `iss` differs.
    const { token: own } = await issueAccessToken(testApp.app.signingKeys, stored, ['orders:read'], {
      issuer: issuerOf(testApp.config),
      defaultAudience: 'maxpoint-api',
    });
    expect((await info(`Bearer ${own}`)).statusCode).toBe(200);
    expectRefused(await info(`Bearer ${token}`), /invalid_token/);
  });

  it('refuses a token for another audience', async () => {
    const stored = await testApp.db.apiClient.findUniqueOrThrow({ where: { id: client.clientId } });
    const { token } = await issueAccessToken(testApp.app.signingKeys, stored, [], {
      issuer: issuerOf(testApp.config),
      defaultAudience: 'another-api',
    });
    expectRefused(await info(`Bearer ${token}`), /invalid_token/);
  });

  it('refuses a JWT that is not an access token (typ) or whose sub is not its client', async () => {
    const { key, kid } = testApp.app.signingKeys.signingKey;
    const control = await signWith(key, kid, {});
    expect((await info(`Bearer ${control}`)).statusCode).toBe(200);
    expectRefused(await info(`Bearer ${await signWith(key, kid, {}, { typ: 'JWT' })}`), /invalid_token/);
    expectRefused(await info(`Bearer ${await signWith(key, kid, { sub: 'someone-else' })}`));
    const noJti = await signWith(key, kid, { jti: undefined });
    expectRefused(await info(`Bearer ${noJti}`), /invalid_token/);
  });

  it('refuses a token naming a client that does not exist', async () => {
    const { token } = await issueAccessToken(
      testApp.app.signingKeys,
      { id: 'deleted-client', audience: null, tokenTtlSeconds: 600 },
      [],
      { issuer: issuerOf(testApp.config), defaultAudience: 'maxpoint-api' },
    );
    expectRefused(await info(`Bearer ${token}`), /invalid_token/);
  });

  it('refuses a token once it has been revoked', async () => {
    const token = await issue();
    expect((await info(`Bearer ${token}`)).statusCode).toBe(200);
    const revoke = await testApp.app.inject({
      method: 'POST',
      url: '/oauth/revoke',
      headers: { ...FORM, authorization: basicAuth(client.clientId, client.clientSecret) },
      payload: form({ token }),
    });
    expect(revoke.statusCode).toBe(200);
    expectRefused(await info(`Bearer ${token}`), /invalid_token/);
  });

  it("refuses the tokens of a disabled client, and accepts them again once it's enabled", async () => {
    const toggled = await newClient(testApp, { name: 'Toggled' });
    const token = await issue(toggled);
    await setClientStatus(testApp.db, toggled.clientId, 'disabled', 'vitest');
    // As by the admin CLI: this replica hears of it through its client cache's notifications.
    await untilNotified(testApp, toggled.clientId);
    expectRefused(await info(`Bearer ${token}`), /invalid_token/);
    await setClientStatus(testApp.db, toggled.clientId, 'active', 'vitest');
    expect((await info(`Bearer ${token}`)).statusCode).toBe(200);
  });

  it('refuses an oversized Authorization header without looking at it', async () => {
    expectRefused(await info(`Bearer ${'a'.repeat(9000)}`));
  });

  it('refuses a token whose client_id contains U+0000 with 401, not 500', async () => {
    const header = b64json({ alg: 'ES256', typ: 'at+jwt', kid: testApp.app.signingKeys.signingKey.kid });
    expectRefused(await info(`Bearer ${header}.${b64json({ client_id: 'a\u0000b' })}.c2ln`));
  });
});
