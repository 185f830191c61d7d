import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrismaClient, type PrismaClient } from '@mxp/db';
import { createTestDatabase } from '@mxp/db/testing';
import { until } from '@mxp/testing/faults';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadOtherclientConfig } from '../../src/config.js';
import { testEnv } from '../helpers.js';
import { basicAuth, FORM, form, newClient, startApp, type TestApp, type TestClient } from '../routes/support.js';

const started: TestApp[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((testApp) => testApp.close()));
});

async function start(env: NodeJS.ProcessEnv = {}): Promise<TestApp> {
  const testApp = await startApp({ DATA_DIR: mkdtempSync(join(tmpdir(), 'mxp-otherclient-cache-')), ...env });
  started.push(testApp);
  return testApp;
}

function token(testApp: TestApp, client: TestClient) {
  return testApp.app.inject({ method: 'POST', url: '/api/auth/token', payload: client });
}

/** The listening connections of the client cache on the app's database. */
async function listeners(db: PrismaClient): Promise<number> {
  const [row] = await db.$queryRaw<Array<{ n: number }>>`
    SELECT count(*)::int AS n FROM pg_stat_activity
    WHERE datname = current_database() AND application_name = 'otherclient-client-cache'`;
  return row?.n ?? 0;
}

/** Requests a token until the app serves the client from its cache. */
async function cached(testApp: TestApp, client: TestClient): Promise<void> {
  await until(async () => {
    expect((await token(testApp, client)).statusCode).toBe(200);
    return testApp.app.clientCache.peek(client.clientId) !== undefined;
  });
}

/** A token of the client from `POST /oauth/token`, and its jti. */
async function oauthToken(testApp: TestApp, client: TestClient): Promise<{ token: string; jti: string }> {
  const response = await testApp.app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { ...FORM, authorization: basicAuth(client.clientId, client.clientSecret) },
    payload: form({ grant_type: 'client_credentials' }),
  });
  expect(response.statusCode).toBe(200);
  const token = String(response.json().access_token);
  const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString());
  return { token, jti: String(claims.jti) };
}

/** Whether the client's own introspection calls `token` active. */
async function introspectedActive(testApp: TestApp, client: TestClient, token: string): Promise<boolean> {
  const response = await testApp.app.inject({
    method: 'POST',
    url: '/oauth/introspect',
    headers: { ...FORM, authorization: basicAuth(client.clientId, client.clientSecret) },
    payload: form({ token }),
  });
  expect(response.statusCode).toBe(200);
  return response.json().active === true;
}

/** A revocation written outside the app, as another replica writes it. */
function revokeElsewhere(db: PrismaClient, clientId: string, jti: string) {
  return db.revokedToken.create({ data: { jti, clientId, expiresAt: new Date(Date.now() + 3_600_000) } });
}

describe('the client cache plugin', () => {
  it('listens on a connection of its own, closed with the app', async () => {
    const database = await createTestDatabase();
    const admin = createPrismaClient(database.url, { poolMax: 1 });
    try {
      const app = await buildApp(
        loadOtherclientConfig(testEnv(database.url, { DATA_DIR: mkdtempSync(join(tmpdir(), 'mxp-')) })),
      );
      expect(app.clientCache.enabled).toBe(true);
      await until(async () => (await listeners(admin)) === 1);
      await app.close();
      // The server ends the backend just after the client's goodbye.
      await until(async () => (await listeners(admin)) === 0, 2_000);
    } finally {
      await admin.$disconnect();
      await database.drop();
    }
  });

  it('CLIENT_CACHE_MAX_ENTRIES=0: caches nothing and does not listen; tokens are still issued', async () => {
    const testApp = await start({ CLIENT_CACHE_MAX_ENTRIES: '0' });
    const client = await newClient(testApp);
    for (let i = 0; i < 3; i++) expect((await token(testApp, client)).statusCode).toBe(200);
    expect(testApp.app.clientCache.enabled).toBe(false);
    expect(testApp.app.clientCache.peek(client.clientId)).toBeUndefined();
    expect(testApp.app.clientCache.size).toBe(0);
    expect(await listeners(testApp.db)).toBe(0);
  });

  it('holds at most CLIENT_CACHE_MAX_ENTRIES clients, and requests with unknown ids evict none of them', async () => {
    const testApp = await start({ CLIENT_CACHE_MAX_ENTRIES: '2' });
    const [first, second, third] = [await newClient(testApp), await newClient(testApp), await newClient(testApp)];
    if (!first || !second || !third) throw new Error('three clients expected');
    await cached(testApp, first);
    await cached(testApp, second);
    for (let i = 0; i < 50; i++) {
      expect((await token(testApp, { clientId: randomUUID(), clientSecret: randomUUID() })).statusCode).toBe(401);
    }
    expect(testApp.app.clientCache.peek(first.clientId)).toBeDefined();
    expect(testApp.app.clientCache.peek(second.clientId)).toBeDefined();
    await cached(testApp, third);
    expect(testApp.app.clientCache.size).toBe(2);
  });

  it('caches revocation answers: a revocation elsewhere counts once notified, one made here at once', async () => {
    const testApp = await start();
    const client = await newClient(testApp);
    // Cached only once the feed vouches for the cache (as the client then is).
    await cached(testApp, client);
    const [elsewhere, unnotified, here] = [
      await oauthToken(testApp, client),
      await oauthToken(testApp, client),
      await oauthToken(testApp, client),
    ];
    for (const { token } of [elsewhere, unnotified, here]) {
      expect(await introspectedActive(testApp, client, token)).toBe(true);
    }
    expect(testApp.app.revocations.size).toBe(3);

    // Written with the triggers off (as no replica writes it): no notification, so the answer held is served.
    await testApp.db.$transaction([
      testApp.db.$executeRaw`SET LOCAL session_replication_role = replica`,
      revokeElsewhere(testApp.db, client.clientId, unnotified.jti),
    ]);
    await revokeElsewhere(testApp.db, client.clientId, elsewhere.jti);
    await until(async () => !(await introspectedActive(testApp, client, elsewhere.token)));
    expect(await introspectedActive(testApp, client, unnotified.token)).toBe(true);

    const revoked = await testApp.app.inject({
      method: 'POST',
      url: '/oauth/revoke',
      headers: { ...FORM, authorization: basicAuth(client.clientId, client.clientSecret) },
      payload: form({ token: here.token }),
    });
    expect(revoked.statusCode).toBe(200);
    expect(await introspectedActive(testApp, client, here.token)).toBe(false);
  });

  it('CLIENT_CACHE_MAX_ENTRIES=0: reads every revocation from the database', async () => {
    const testApp = await start({ CLIENT_CACHE_MAX_ENTRIES: '0' });
    const client = await newClient(testApp);
    const { token, jti } = await oauthToken(testApp, client);
    expect(await introspectedActive(testApp, client, token)).toBe(true);
    await testApp.db.$transaction([
      testApp.db.$executeRaw`SET LOCAL session_replication_role = replica`,
      revokeElsewhere(testApp.db, client.clientId, jti),
    ]);
    expect(await introspectedActive(testApp, client, token)).toBe(false);
    expect(testApp.app.revocations.size).toBe(0);
  });
});
