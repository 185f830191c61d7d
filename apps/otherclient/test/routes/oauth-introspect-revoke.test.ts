import { issuerOf } from '@mxp/service-kit';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueAccessToken } from '../../src/services/access-tokens.js';
import { setClientStatus } from '../../src/services/clients.js';
import {
  atTime,
  b64json,
  basicAuth,
  FORM,
  form,
  freshIp,
  isFastifyDefaultError,
  newClient,
  startApp,
  type TestApp,
  type TestClient,
  untilNotified,
} from './support.js';

let testApp: TestApp;
let owner: TestClient;
let stranger: TestClient;
let resourceServer: TestClient;

beforeAll(async () => {
  testApp = await startApp({ RATE_LIMIT_CREDENTIALS_PER_MINUTE: '3' });
  owner = await newClient(testApp, { name: 'Owner', scopes: ['orders:read', 'orders:write'] });
  stranger = await newClient(testApp, { name: 'Stranger', scopes: ['orders:read'] });
  resourceServer = await newClient(testApp, { name: 'Orders API', scopes: ['token:introspect'] });
});
afterAll(async () => {
  await testApp?.close();
});

type Auth = 'basic' | 'post';

function call(
  endpoint: 'introspect' | 'revoke',
  credentials: TestClient,
  parameters: Record<string, string>,
  { auth = 'basic', remoteAddress = freshIp() }: { auth?: Auth; remoteAddress?: string } = {},
) {
  const body =
    auth === 'post'
      ? { ...parameters, client_id: credentials.clientId, client_secret: credentials.clientSecret }
      : parameters;
  return testApp.app.inject({
    method: 'POST',
    url: `/oauth/${endpoint}`,
    remoteAddress,
    headers:
      auth === 'basic' ? { ...FORM, authorization: basicAuth(credentials.clientId, credentials.clientSecret) } : FORM,
    payload: form(body),
  });
}

const introspect = (credentials: TestClient, token: string, auth: Auth = 'basic') =>
  call('introspect', credentials, { token }, { auth });
const revoke = (credentials: TestClient, token: string, auth: Auth = 'basic') =>
  call('revoke', credentials, { token }, { auth });

async function tokenFor(credentials: TestClient, scope?: string): Promise<string> {
  const response = await testApp.app.inject({
    method: 'POST',
    url: '/oauth/token',
    remoteAddress: freshIp(),
    headers: { ...FORM, authorization: basicAuth(credentials.clientId, credentials.clientSecret) },
    payload: form(
      scope === undefined ? { grant_type: 'client_credentials' } : { grant_type: 'client_credentials', scope },
    ),
  });
  expect(response.statusCode).toBe(200);
  return response.json().access_token;
}

async function expectInactive(response: Awaited<ReturnType<typeof introspect>>) {
  expect(response.statusCode).toBe(200);
  expect(response.json()).toEqual({ active: false });
  expect(response.headers['cache-control']).toBe('no-store');
}

describe('POST /oauth/introspect (RFC 7662)', () => {
  it.each(['basic', 'post'] as const)("describes the caller's own active token (client_secret_%s)", async (auth) => {
    const token = await tokenFor(owner, 'orders:read');
    const claims = decodeJwt(token);
    const response = await introspect(owner, token, auth);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers.pragma).toBe('no-cache');
    expect(response.json()).toEqual({
      active: true,
      scope: 'orders:read',
      client_id: owner.clientId,
      token_type: 'Bearer',
      exp: claims.exp,
      iat: claims.iat,
      sub: owner.clientId,
      aud: 'maxpoint-api',
      iss: issuerOf(testApp.config),
      jti: claims.jti,
    });
  });

  it('introspects tokens of the specification endpoint too, and omits scope when there is none', async () => {
    const plain = await newClient(testApp, { name: 'Plain' });
    const issued = await testApp.app.inject({ method: 'POST', url: '/api/auth/token', payload: plain });
    const response = await introspect(plain, issued.json().data.token);
    expect(response.json()).toMatchObject({ active: true, client_id: plain.clientId });
    expect(response.json()).not.toHaveProperty('scope');
  });

  it.each([
    ['garbage', 'not-a-token'],
    ['an empty token', ''],
    ['a hand-made token', `${b64json({ alg: 'ES256', kid: 'k' })}.${b64json({ client_id: 'x' })}.c2ln`],
  ])('answers {active:false} for %s', async (_name, token) => {
    await expectInactive(await introspect(owner, token));
  });

  it('answers {active:false} for an altered, foreign-issuer, expired or revoked token', async () => {
    const token = await tokenFor(owner);
    const [header, payload] = token.split('.');
    await expectInactive(await introspect(owner, `${header}.${payload}.${'A'.repeat(86)}`));

    const stored = await testApp.db.apiClient.findUniqueOrThrow({ where: { id: owner.clientId } });
    const foreign = await issueAccessToken(testApp.app.signingKeys, stored, [], {
      issuer: 'https://elsewhere.example',
      defaultAudience: 'maxpoint-api',
    });
    await expectInactive(await introspect(owner, foreign.token));

    const exp = decodeJwt(token).exp as number;
    await atTime(exp * 1000 - 1000, async () => {
      expect((await introspect(owner, token)).json().active).toBe(true);
    });
    await atTime(exp * 1000, async () => {
      await expectInactive(await introspect(owner, token));
    });

    expect((await revoke(owner, token)).statusCode).toBe(200);
    await expectInactive(await introspect(owner, token));
  });

  it("hides another client's token unless the caller may introspect every token (token:introspect)", async () => {
    const token = await tokenFor(owner);
    await expectInactive(await introspect(stranger, token));
    const response = await introspect(resourceServer, token);
    expect(response.json()).toMatchObject({
      active: true,
      client_id: owner.clientId,
      sub: owner.clientId,
      scope: 'orders:read orders:write',
    });
  });

  it('answers {active:false} for the tokens of a disabled client, even to a resource server', async () => {
    const toggled = await newClient(testApp, { name: 'Toggled' });
    const token = await tokenFor(toggled);
    await setClientStatus(testApp.db, toggled.clientId, 'disabled', 'vitest');
    // As by the admin CLI: this replica hears of it through its client cache's notifications.
    await untilNotified(testApp, toggled.clientId);
    await expectInactive(await introspect(resourceServer, token));
    await setClientStatus(testApp.db, toggled.clientId, 'active', 'vitest');
    expect((await introspect(resourceServer, token)).json().active).toBe(true);
  });

  it('requires client authentication (401 invalid_client with a Basic challenge)', async () => {
    const token = await tokenFor(owner);
    for (const response of [
      await introspect({ clientId: owner.clientId, clientSecret: 'wrong' }, token),
      await introspect({ clientId: owner.clientId, clientSecret: 'wrong' }, token, 'post'),
      await testApp.app.inject({ method: 'POST', url: '/oauth/introspect', headers: FORM, payload: form({ token }) }),
    ]) {
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({ error: 'invalid_client' });
      expect(response.headers['www-authenticate']).toMatch(/^Basic /);
    }
  });

  it('answers invalid_request for a missing token, an unknown parameter or a JSON body', async () => {
    const missing = await call('introspect', owner, {});
    const unknown = await call('introspect', owner, { token: 'x', foo: 'bar' });
    const json = await testApp.app.inject({
      method: 'POST',
      url: '/oauth/introspect',
      headers: { 'content-type': 'application/json', authorization: basicAuth(owner.clientId, owner.clientSecret) },
      payload: { token: 'x' },
    });
    for (const response of [missing, unknown, json]) {
      expect(response.statusCode).toBe(400);
      expect(isFastifyDefaultError(response.json())).toBe(false);
      expect(response.json()).toMatchObject({ error: 'invalid_request' });
    }
  });

  it('accepts a token_type_hint', async () => {
    const token = await tokenFor(owner);
    const response = await call('introspect', owner, { token, token_type_hint: 'access_token' });
    expect(response.json().active).toBe(true);
  });

  it('answers {active:false} for a token whose client_id contains U+0000, not 500', async () => {
    const token = `${b64json({ alg: 'ES256', kid: 'k' })}.${b64json({ client_id: 'a\u0000b' })}.c2ln`;
    await expectInactive(await introspect(owner, token));
  });

  it('audits a failed client authentication like the token endpoints do', async () => {
    const remoteAddress = freshIp();
    await call('introspect', { clientId: owner.clientId, clientSecret: 'guess' }, { token: 'x' }, { remoteAddress });
    await testApp.app.tokenAudit.flush();
    expect(await testApp.db.tokenAudit.findMany({ where: { ip: remoteAddress } })).toEqual([
      expect.objectContaining({ clientId: owner.clientId, result: 'failed', reason: 'bad_secret' }),
    ]);
  });

  it('limits secret guesses per address to RATE_LIMIT_CREDENTIALS_PER_MINUTE, like /oauth/token', async () => {
    const remoteAddress = freshIp();
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      const guess = { clientId: owner.clientId, clientSecret: `guess-${i}` };
      statuses.push((await call('introspect', guess, { token: 'x' }, { remoteAddress })).statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
  });
});

describe('POST /oauth/revoke (RFC 7009)', () => {
  it.each(['basic', 'post'] as const)('revokes the caller’s own token (client_secret_%s)', async (auth) => {
    const token = await tokenFor(owner);
    const { jti, exp } = decodeJwt(token);
    const response = await revoke(owner, token, auth);
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe('');
    expect(response.headers['cache-control']).toBe('no-store');

    await expectInactive(await introspect(owner, token));
    const info = await testApp.app.inject({
      method: 'GET',
      url: '/api/auth/token/info',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(info.statusCode).toBe(401);
    expect(info.headers['www-authenticate']).toMatch(/^Bearer/);
    const row = await testApp.db.revokedToken.findUniqueOrThrow({ where: { jti: jti as string } });
    expect(row).toMatchObject({ clientId: owner.clientId, expiresAt: new Date((exp as number) * 1000) });

    // Revoking again is answered 200 as well.
    const again = await revoke(owner, token, auth);
    expect(again.statusCode).toBe(200);
  });

  it('leaves the other tokens of the client active', async () => {
    const [first, second] = [await tokenFor(owner), await tokenFor(owner)];
    await revoke(owner, first);
    expect((await introspect(owner, second)).json().active).toBe(true);
  });

  it.each([
    ['garbage', 'garbage'],
    ['an empty token', ''],
    ['a token naming an unknown client', `${b64json({ alg: 'ES256', kid: 'k' })}.${b64json({ client_id: 'x' })}.c2ln`],
  ])('answers 200 with an empty body for %s', async (_name, token) => {
    const response = await revoke(owner, token);
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe('');
  });

  it("refuses to revoke another client's valid token (400 unauthorized_client), which stays active", async () => {
    const token = await tokenFor(owner);
    const response = await revoke(stranger, token);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: 'unauthorized_client', error_description: expect.any(String) });
    expect(response.headers['cache-control']).toBe('no-store');
    expect((await introspect(owner, token)).json().active).toBe(true);
    // Not even a resource server may revoke it.
    expect((await revoke(resourceServer, token)).statusCode).toBe(400);
    expect((await introspect(owner, token)).json().active).toBe(true);
  });

  it('requires client authentication and a token', async () => {
    const token = await tokenFor(owner);
    const unauthenticated = await revoke({ clientId: owner.clientId, clientSecret: 'wrong' }, token);
    expect(unauthenticated.statusCode).toBe(401);
    expect(unauthenticated.json()).toMatchObject({ error: 'invalid_client' });
    expect(unauthenticated.headers['www-authenticate']).toMatch(/^Basic /);
    expect((await introspect(owner, token)).json().active).toBe(true);

    const missing = await call('revoke', owner, {});
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toMatchObject({ error: 'invalid_request' });
  });
});
