import type { ApiClient } from '@mxp/db';
import { NotifiedCache, startChangeFeed } from '@mxp/db/change-feed';
import {
  generateSigningKey,
  importKeySet,
  type KeySet,
  keySetAlgorithms,
  signJwt,
  VerifiedTokenCache,
} from '@mxp/jwt-core';
import { issuerOf } from '@mxp/service-kit';
import { until } from '@mxp/testing/faults';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCESS_TOKEN_TYPE,
  type AccessTokenClaims,
  type AccessTokenSettings,
  formatUtcToSecond,
  inspectAccessToken,
  issueAccessToken,
  revokeAccessToken,
  type TokenInspectionContext,
} from '../../src/services/access-tokens.js';
import { ClientCache } from '../../src/services/client-cache.js';
import { setClientStatus } from '../../src/services/clients.js';
import { RevocationCache, type RevocationState } from '../../src/services/revocation-cache.js';
import { b64json, newClient, servedJwks, startApp, type TestApp } from '../routes/support.js';

let testApp: TestApp;
let settings: AccessTokenSettings;
let client: ApiClient;
let otherClient: ApiClient;

beforeAll(async () => {
  testApp = await startApp();
  settings = { issuer: issuerOf(testApp.config), defaultAudience: testApp.config.TOKEN_DEFAULT_AUDIENCE };
  client = await storedClient({ name: 'Tokens', scopes: ['orders:read', 'orders:write'] });
  otherClient = await storedClient({ name: 'Other', audience: 'billing-api', tokenTtlSeconds: 60 });
});
afterAll(async () => {
  await testApp?.close();
});

async function storedClient(input: Parameters<typeof newClient>[1]): Promise<ApiClient> {
  const { clientId } = await newClient(testApp, input);
  return testApp.db.apiClient.findUniqueOrThrow({ where: { id: clientId } });
}

const keys = () => testApp.app.signingKeys;

/** A context that caches nothing: every call verifies the signature and reads the client from the database. */
function uncached(keySet: KeySet = keys()): TokenInspectionContext {
  const db = testApp.db;
  const clients = new ClientCache(db);
  return {
    db,
    keySet,
    settings,
    clients,
    verifiedTokens: new VerifiedTokenCache(0),
    revocations: new RevocationCache(db),
  };
}

const inspect = (token: string, now?: Date) => inspectAccessToken(uncached(), token, now);

describe('issueAccessToken', () => {
  it('signs an RFC 9068 access token that jose verifies with the served JWKS', async () => {
    const now = new Date('2030-01-01T00:00:00.750Z');
    const issued = await issueAccessToken(keys(), client, ['orders:read'], settings, now);
    expect(issued).toEqual({
      token: expect.any(String),
      jti: expect.any(String),
      issuedAt: new Date('2030-01-01T00:00:00.000Z'),
      expiresAt: new Date('2030-01-01T01:00:00.000Z'),
      expiresIn: 3600,
      scope: 'orders:read',
    });
    expect(decodeProtectedHeader(issued.token)).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: keys().signingKey.kid });
    const { jwks } = await servedJwks(testApp);
    const { payload } = await jwtVerify(issued.token, createLocalJWKSet(jwks), {
      issuer: 'http://127.0.0.1:3001',
      audience: 'maxpoint-api',
      typ: ACCESS_TOKEN_TYPE,
      currentDate: new Date('2030-01-01T00:30:00Z'),
    });
    expect(payload).toEqual({
      iss: 'http://127.0.0.1:3001',
      sub: client.id,
      aud: 'maxpoint-api',
      iat: Date.parse('2030-01-01T00:00:00Z') / 1000,
      exp: Date.parse('2030-01-01T01:00:00Z') / 1000,
      jti: issued.jti,
      client_id: client.id,
      scope: 'orders:read',
    });
  });

  it("uses the client's own audience and lifetime, and no scope claim without scopes", async () => {
    const issued = await issueAccessToken(keys(), otherClient, [], settings);
    const claims = JSON.parse(Buffer.from(issued.token.split('.')[1] ?? '', 'base64url').toString());
    expect(claims.aud).toBe('billing-api');
    expect(claims.exp - claims.iat).toBe(60);
    expect(claims).not.toHaveProperty('scope');
    expect(issued.scope).toBe('');
  });

  it('gives every token its own jti', async () => {
    const jtis = await Promise.all(
      Array.from({ length: 20 }, async () => (await issueAccessToken(keys(), client, [], settings)).jti),
    );
    expect(new Set(jtis).size).toBe(20);
  });
});

describe('inspectAccessToken', () => {
  it('accepts a token it issued, with its claims, client and scopes', async () => {
    const issued = await issueAccessToken(keys(), client, ['orders:read', 'orders:write'], settings);
    const inspection = await inspect(issued.token);
    expect(inspection).toMatchObject({
      active: true,
      scopes: ['orders:read', 'orders:write'],
      client: { id: client.id, name: 'Tokens' },
      claims: { jti: issued.jti, sub: client.id, client_id: client.id },
    });
  });

  it.each([
    ['an empty string', ''],
    ['a word', 'token'],
    ['a payload that is not JSON', 'a.b.c'],
    ['a payload without client_id', `h.${b64json({ sub: 'x' })}.s`],
    ['a numeric client_id', `h.${b64json({ client_id: 42 })}.s`],
    ['an over-long client_id', `h.${b64json({ client_id: 'x'.repeat(201) })}.s`],
    ['an over-long token', `h.${b64json({ client_id: 'x' })}.${'s'.repeat(9000)}`],
  ])('calls %s malformed', async (_name, token) => {
    expect(await inspect(token)).toEqual({ active: false, reason: 'malformed' });
  });

  it('calls a token of an unknown client unknown_client', async () => {
    const { token } = await issueAccessToken(keys(), { ...client, id: 'gone' }, [], settings);
    expect(await inspect(token)).toEqual({ active: false, reason: 'unknown_client' });
  });

  it('calls a token invalid when its issuer, audience, type, subject or signature is wrong', async () => {
    const foreign = await issueAccessToken(keys(), client, [], { ...settings, issuer: 'https://elsewhere.example' });
    const otherAudience = await issueAccessToken(keys(), { ...client, audience: 'billing-api' }, [], settings);
    const signOptions = {
      typ: 'at+jwt',
      issuer: settings.issuer,
      audience: settings.defaultAudience,
      subject: client.id,
      expiresInSeconds: 600,
    };
    const control = await signJwt(keys(), { client_id: client.id }, signOptions);
    const idToken = await signJwt(keys(), { client_id: client.id }, { ...signOptions, typ: 'JWT' });
    const wrongSubject = await signJwt(keys(), { client_id: client.id }, { ...signOptions, subject: otherClient.id });
    const valid = await issueAccessToken(keys(), client, [], settings);
    const [header, payload] = valid.token.split('.');
    const badSignature = `${header}.${payload}.${'A'.repeat(86)}`;

    expect((await inspect(control.token)).active).toBe(true);
    for (const token of [foreign.token, otherAudience.token, idToken.token, wrongSubject.token, badSignature]) {
      expect(await inspect(token)).toEqual({ active: false, reason: 'invalid' });
    }
  });

  it('calls a token expired from its exp on (the clock is an argument)', async () => {
    const issuedAt = new Date('2030-02-02T08:00:00Z');
    const { token } = await issueAccessToken(keys(), otherClient, [], settings, issuedAt);
    expect((await inspect(token, new Date('2030-02-02T08:00:59.999Z'))).active).toBe(true);
    expect(await inspect(token, new Date('2030-02-02T08:01:00Z'))).toEqual({ active: false, reason: 'expired' });
  });

  it('calls the token of a disabled client client_disabled, and active again once enabled', async () => {
    const toggled = await storedClient({ name: 'Toggled' });
    const { token } = await issueAccessToken(keys(), toggled, [], settings);
    await setClientStatus(testApp.db, toggled.id, 'disabled', 'vitest');
    expect(await inspect(token)).toEqual({ active: false, reason: 'client_disabled' });
    await setClientStatus(testApp.db, toggled.id, 'active', 'vitest');
    expect((await inspect(token)).active).toBe(true);
  });

  it('calls a token whose client_id contains U+0000 malformed instead of throwing', async () => {
    const inspection = await inspect(`h.${b64json({ client_id: 'a\u0000b' })}.s`);
    expect(inspection.active).toBe(false);
  });
});

describe('inspectAccessToken with verified tokens remembered', () => {
  // Each test's own cache, shared by its calls; a key set that verifies nothing this service signed shows whether a
  // call checked the signature (it would answer invalid) or answered from memory.
  let verifiedTokens: VerifiedTokenCache<AccessTokenClaims>;
  let strangerKeys: KeySet;
  beforeAll(async () => {
    strangerKeys = await importKeySet({ jwks: { keys: [await generateSigningKey('ES256')] } });
  });
  const context = (keySet: KeySet = keys()) => ({ ...uncached(keySet), verifiedTokens });
  const inspectRemembered = (token: string, keySet?: KeySet, now?: Date) =>
    inspectAccessToken(context(keySet), token, now);

  it('checks a signature once: the same token is then answered from memory, a changed one is verified', async () => {
    verifiedTokens = new VerifiedTokenCache(10);
    const issued = await issueAccessToken(keys(), client, ['orders:read'], settings);
    expect(await inspect(issued.token)).toMatchObject({ active: true });
    expect(await inspectRemembered(issued.token, strangerKeys)).toEqual({ active: false, reason: 'invalid' });
    expect(verifiedTokens.size).toBe(0);

    const first = await inspectRemembered(issued.token);
    expect(first).toMatchObject({ active: true, scopes: ['orders:read'], claims: { jti: issued.jti } });
    expect(verifiedTokens.size).toBe(1);
    expect(await inspectRemembered(issued.token, strangerKeys)).toEqual(first);

    const [header, payload] = issued.token.split('.');
    const forged = `${header}.${payload}.${'A'.repeat(86)}`;
    expect(await inspectRemembered(forged)).toEqual({ active: false, reason: 'invalid' });
    expect(verifiedTokens.size).toBe(1);
  });

  it('still refuses a remembered token once revoked, once its client is disabled, and from its exp on', async () => {
    verifiedTokens = new VerifiedTokenCache(10);
    const owner = await storedClient({ name: 'Remembered', tokenTtlSeconds: 60 });
    const revoked = await issueAccessToken(keys(), owner, [], settings);
    const issuedAt = new Date();
    const kept = await issueAccessToken(keys(), owner, [], settings, issuedAt);
    for (const { token } of [revoked, kept]) expect((await inspectRemembered(token)).active).toBe(true);

    expect(await revokeAccessToken(context(), revoked.token, owner.id)).toBe('revoked');
    expect(await inspectRemembered(revoked.token, strangerKeys)).toEqual({ active: false, reason: 'revoked' });

    await setClientStatus(testApp.db, owner.id, 'disabled', 'vitest');
    expect(await inspectRemembered(kept.token, strangerKeys)).toEqual({ active: false, reason: 'client_disabled' });
    await setClientStatus(testApp.db, owner.id, 'active', 'vitest');
    expect((await inspectRemembered(kept.token, strangerKeys)).active).toBe(true);

    const atExp = new Date(kept.expiresAt.getTime());
    expect(await inspectRemembered(kept.token, keys(), atExp)).toEqual({ active: false, reason: 'expired' });
  });

  it("refuses a remembered token once its client's audience is no longer the token's", async () => {
    verifiedTokens = new VerifiedTokenCache(10);
    const owner = await storedClient({ name: 'Moved', audience: 'orders-api' });
    const issued = await issueAccessToken(keys(), owner, [], settings);
    expect((await inspectRemembered(issued.token)).active).toBe(true);

    await testApp.db.apiClient.update({ where: { id: owner.id }, data: { audience: 'billing-api' } });
    expect(await inspectRemembered(issued.token, strangerKeys)).toEqual({ active: false, reason: 'invalid' });
    await testApp.db.apiClient.update({ where: { id: owner.id }, data: { audience: null } });
    expect(await inspectRemembered(issued.token, strangerKeys)).toEqual({ active: false, reason: 'invalid' });
    await testApp.db.apiClient.update({ where: { id: owner.id }, data: { audience: 'orders-api' } });
    expect((await inspectRemembered(issued.token, strangerKeys)).active).toBe(true);
  });
});

describe('revokeAccessToken', () => {
  it('counts at once in this process when revocation answers are cached, without waiting for a notification', async () => {
    // A current feed that listens on no revocation channel: only the revoking process's own invalidation can count.
    const feed = startChangeFeed({
      connectionString: testApp.config.DATABASE_URL,
      channels: ['mxp_test_deaf'],
      heartbeatMs: 100,
      onNotification: () => {},
    });
    try {
      await until(() => feed.isCurrent());
      const revocations = new RevocationCache(
        testApp.db,
        new NotifiedCache<RevocationState>(feed, { maxEntries: 10, maxAgeMs: 60_000 }),
      );
      const context = { ...uncached(), revocations };
      const issued = await issueAccessToken(keys(), client, [], settings);
      expect((await inspectAccessToken(context, issued.token)).active).toBe(true);
      expect(revocations.size).toBe(1);
      expect(await revokeAccessToken(context, issued.token, client.id)).toBe('revoked');
      expect(await inspectAccessToken(context, issued.token)).toEqual({ active: false, reason: 'revoked' });
    } finally {
      await feed.close();
    }
  });

  it('revokes a token for its own client only, once, until its expiry', async () => {
    const issued = await issueAccessToken(keys(), client, [], settings);
    expect(await revokeAccessToken(uncached(), issued.token, otherClient.id)).toBe('not_owner');
    expect((await inspect(issued.token)).active).toBe(true);

    expect(await revokeAccessToken(uncached(), issued.token, client.id)).toBe('revoked');
    expect(await inspect(issued.token)).toEqual({ active: false, reason: 'revoked' });
    expect(await testApp.db.revokedToken.findUnique({ where: { jti: issued.jti } })).toMatchObject({
      clientId: client.id,
      expiresAt: issued.expiresAt,
    });
    expect(await revokeAccessToken(uncached(), issued.token, client.id)).toBe('not_active');
  });

  it('answers not_active for garbage and for an expired token', async () => {
    expect(await revokeAccessToken(uncached(), 'garbage', client.id)).toBe('not_active');
    const { token, expiresAt } = await issueAccessToken(keys(), client, [], settings, new Date('2020-01-01T00:00:00Z'));
    expect(await revokeAccessToken(uncached(), token, client.id, expiresAt)).toBe('not_active');
  });
});

describe('formatUtcToSecond and keySetAlgorithms', () => {
  it('formats YYYY-MM-DD HH:mm:ss in UTC, truncating the milliseconds', () => {
    expect(formatUtcToSecond(new Date(Date.UTC(2025, 8, 19, 23, 59, 59, 999)))).toBe('2025-09-19 23:59:59');
    expect(formatUtcToSecond(new Date('2025-01-02T03:04:05+05:00'))).toBe('2025-01-01 22:04:05');
  });

  it("allows exactly the algorithms of the service's keys", () => {
    expect(keySetAlgorithms(keys())).toEqual(['ES256']);
  });
});
