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
import { newClient, startApp, type TestApp, type TestClient } from '../routes/support.js';

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
});
