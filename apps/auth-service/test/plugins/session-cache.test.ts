import { createPrismaClient } from '@mxp/db';
import { createTestDatabase } from '@mxp/db/testing';
import { type DbProxy, hostAndPort, startDbProxy } from '@mxp/testing/db-proxy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadAuthServiceConfig } from '../../src/config.js';
import { CHANGE_FEED_APPLICATION_NAME } from '../../src/plugins/session-cache.js';
import { testEnv } from '../helpers.js';
import {
  atTime,
  bearer,
  createApplication,
  createUser,
  type LoginResult,
  login,
  refresh,
  type TestApp,
  type TestUser,
  tempDataDir,
  validate,
} from '../routes/support.js';

/** The app on its own database, its change feed (only) connected through a proxy the test can stall or cut. */
async function startAppWithFeedProxy(env: NodeJS.ProcessEnv = {}): Promise<TestApp & { proxy: DbProxy }> {
  const database = await createTestDatabase();
  const { host, port } = hostAndPort(database.url);
  const proxy = await startDbProxy(port, host);
  const config = loadAuthServiceConfig(
    testEnv(database.url, {
      DATA_DIR: tempDataDir(),
      RATE_LIMIT_CREDENTIALS_PER_MINUTE: '100000',
      DATABASE_LISTEN_URL: proxy.urlThrough(database.url),
      ...env,
    }),
  );
  const app = await buildApp(config);
  return {
    app,
    config,
    db: app.db,
    proxy,
    async close() {
      await app.close();
      await proxy.close();
      await database.drop();
    },
  };
}

/** Polls until `condition` holds (on the real clock), at most `ms`. */
async function until(condition: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Validates twice: the second answer must come from the session cache. */
async function cached(testApp: TestApp, token: string): Promise<void> {
  expect((await validate(testApp, token)).statusCode).toBe(200);
  const { hits } = testApp.app.sessionCache.stats;
  expect((await validate(testApp, token)).statusCode).toBe(200);
  expect(testApp.app.sessionCache.stats.hits).toBe(hits + 1);
}

/** Backends of the app's change feed, on the app's own database. */
async function feedBackends(testApp: TestApp): Promise<number> {
  const rows = await testApp.db.$queryRaw<{ pid: number }[]>`
    SELECT pid FROM pg_stat_activity WHERE application_name = ${CHANGE_FEED_APPLICATION_NAME}
      AND datname = current_database()`;
  return rows.length;
}

/**
 * Sessions of the user, signed in one after the other (concurrent sign-ins of one account can trip its brute-force
 * backoff, which is not what these tests are about).
 */
async function logins(
  testApp: TestApp,
  user: TestUser,
  applicationId: string,
  count: number,
): Promise<[LoginResult, LoginResult, ...LoginResult[]]> {
  const first = await login(testApp, user, applicationId);
  const second = await login(testApp, user, applicationId);
  const rest: LoginResult[] = [];
  for (let i = 2; i < count; i++) rest.push(await login(testApp, user, applicationId));
  return [first, second, ...rest];
}

function logout(testApp: TestApp, token: string) {
  return testApp.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(token) });
}

describe('session cache: a replica is exact about what it revokes itself', () => {
  let testApp: TestApp & { proxy: DbProxy };
  let user: TestUser;
  let applicationId: string;
  beforeAll(async () => {
    // A generous staleness bound, so the feed keeps vouching while its notifications are held back.
    testApp = await startAppWithFeedProxy({
      SESSION_CACHE_MAX_STALENESS_MS: '10000',
      REFRESH_REUSE_GRACE_SECONDS: '0',
    });
    user = await createUser(testApp.db);
    applicationId = (await createApplication(testApp.db)).id;
    await until(() => testApp.app.sessionCache.isCurrent(), 10_000, 'the feed to listen');
  });
  afterAll(async () => {
    await testApp?.close();
  });

  it('serves a validated session from memory, and the token from the verified-token cache', async () => {
    const session = await login(testApp, user, applicationId);
    const { loads } = testApp.app.sessionCache.stats;
    const tokens = testApp.app.verifiedTokens.size;
    await cached(testApp, session.access_token);
    expect(testApp.app.sessionCache.stats.loads).toBe(loads + 1);
    expect(testApp.app.verifiedTokens.size).toBe(tokens + 1);
    expect(await feedBackends(testApp)).toBe(1);
  });

  it('logout, closing sessions and refresh-token reuse: refused at once, with every notification held back', async () => {
    const loggedOut = await login(testApp, user, applicationId);
    const caller = await login(testApp, user, applicationId);
    const closedOne = await login(testApp, user, applicationId);
    const closedOther = await login(testApp, user, applicationId);
    const reused = await login(testApp, user, applicationId);
    for (const session of [loggedOut, caller, closedOne, closedOther, reused]) {
      await cached(testApp, session.access_token);
    }
    expect((await refresh(testApp, reused.refresh_token)).statusCode).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 5));

    // From here the feed hears nothing (nor do its heartbeats come back, but it vouches for 10 s): only the
    // replica's own bookkeeping can make these refusals immediate.
    testApp.proxy.hold();
    try {
      expect((await logout(testApp, loggedOut.access_token)).statusCode).toBe(200);
      expect((await validate(testApp, loggedOut.access_token)).statusCode).toBe(401);

      const one = await testApp.app.inject({
        method: 'DELETE',
        url: `/auth/sessions/${closedOne.session_id}`,
        headers: bearer(caller.access_token),
      });
      expect(one.statusCode).toBe(200);
      expect((await validate(testApp, closedOne.access_token)).statusCode).toBe(401);

      const others = await testApp.app.inject({
        method: 'DELETE',
        url: '/auth/sessions',
        headers: bearer(caller.access_token),
      });
      expect(others.statusCode).toBe(200);
      expect((await validate(testApp, closedOther.access_token)).statusCode).toBe(401);
      expect((await validate(testApp, caller.access_token)).statusCode).toBe(200);

      // The spent refresh token again, after the (zero) grace period: taken as theft, the session is revoked.
      expect((await refresh(testApp, reused.refresh_token)).statusCode).toBe(401);
      expect((await validate(testApp, reused.access_token)).statusCode).toBe(401);

      // The cache was in play all along: the caller's session was still served from memory.
      expect(testApp.app.sessionCache.isCurrent()).toBe(true);
    } finally {
      testApp.proxy.flush();
    }
  });
});

describe('session cache: when the change feed cannot vouch, validation reads the database', () => {
  let testApp: TestApp & { proxy: DbProxy };
  let user: TestUser;
  let applicationId: string;
  const STALENESS_MS = 600;
  beforeAll(async () => {
    testApp = await startAppWithFeedProxy({ SESSION_CACHE_MAX_STALENESS_MS: String(STALENESS_MS) });
    user = await createUser(testApp.db);
    applicationId = (await createApplication(testApp.db)).id;
    await until(() => testApp.app.sessionCache.isCurrent(), 10_000, 'the feed to listen');
  });
  afterAll(async () => {
    await testApp?.close();
  });

  /** Revokes directly in the database (as another replica does): this app can only learn of it from the feed. */
  async function revokeElsewhere(sessionId: string): Promise<void> {
    await testApp.db
      .$executeRaw`UPDATE auth.sessions SET revoked_at = now(), revoked_reason = 'test' WHERE id = ${sessionId}`;
  }

  it('a silent network: a change the feed never delivers is refused within the staleness bound', async () => {
    const session = await login(testApp, user, applicationId);
    await cached(testApp, session.access_token);
    testApp.proxy.cut('blackhole');
    try {
      const cutAt = performance.now();
      await revokeElsewhere(session.session_id);
      await until(
        async () => (await validate(testApp, session.access_token)).statusCode === 401,
        5_000,
        'the revocation to be refused',
      );
      // The last heartbeat answered was sent before the cut; plus scheduling slack.
      expect(performance.now() - cutAt).toBeLessThan(STALENESS_MS + 250);
      expect(testApp.app.sessionCache.isCurrent()).toBe(false);
      // Still exact, from the database, while the feed is away.
      const other = await login(testApp, user, applicationId);
      expect((await validate(testApp, other.access_token)).statusCode).toBe(200);
      expect((await logout(testApp, other.access_token)).statusCode).toBe(200);
      expect((await validate(testApp, other.access_token)).statusCode).toBe(401);
    } finally {
      testApp.proxy.restore();
    }
    await until(() => testApp.app.sessionCache.isCurrent(), 15_000, 'the feed to reconnect');
    const after = await login(testApp, user, applicationId);
    await cached(testApp, after.access_token);
  });

  it('its backend terminated: exact meanwhile, nothing cached before trusted after, caching resumes', async () => {
    const [revokedWhileDown, kept] = await logins(testApp, user, applicationId, 2);
    await cached(testApp, revokedWhileDown.access_token);
    await cached(testApp, kept.access_token);
    // The revocation commits while the feed is down, so its notification is lost for good.
    await testApp.db.$transaction(async (tx) => {
      await tx.$executeRaw`UPDATE auth.sessions SET revoked_at = now() WHERE id = ${revokedWhileDown.session_id}`;
      const terminated = await testApp.db.$queryRaw<{ pid: number }[]>`
        SELECT pg_terminate_backend(pid), pid FROM pg_stat_activity
        WHERE application_name = ${CHANGE_FEED_APPLICATION_NAME} AND datname = current_database()`;
      expect(terminated).toHaveLength(1);
      await until(() => !testApp.app.sessionCache.isCurrent(), 5_000, 'the feed to notice');
    });
    expect((await validate(testApp, revokedWhileDown.access_token)).statusCode).toBe(401);
    expect((await validate(testApp, kept.access_token)).statusCode).toBe(200);

    await until(() => testApp.app.sessionCache.isCurrent(), 10_000, 'the feed to reconnect');
    expect(await feedBackends(testApp)).toBe(1);
    // What was cached before the outage is read again (a change may have been missed), then cached anew.
    expect((await validate(testApp, revokedWhileDown.access_token)).statusCode).toBe(401);
    const { loads } = testApp.app.sessionCache.stats;
    expect((await validate(testApp, kept.access_token)).statusCode).toBe(200);
    expect(testApp.app.sessionCache.stats.loads).toBe(loads + 1);
    await cached(testApp, kept.access_token);
  });
});

describe('session cache: bounds, expiry and switching it off', () => {
  it('keeps at most SESSION_CACHE_MAX_ENTRIES sessions and VERIFIED_TOKEN_CACHE_MAX_ENTRIES tokens', async () => {
    const testApp = await startAppWithFeedProxy({
      SESSION_CACHE_MAX_ENTRIES: '3',
      VERIFIED_TOKEN_CACHE_MAX_ENTRIES: '2',
    });
    try {
      await until(() => testApp.app.sessionCache.isCurrent(), 10_000, 'the feed to listen');
      const user = await createUser(testApp.db);
      const applicationId = (await createApplication(testApp.db)).id;
      const sessions = await logins(testApp, user, applicationId, 8);
      for (let round = 0; round < 2; round++) {
        for (const session of sessions) {
          expect((await validate(testApp, session.access_token)).statusCode).toBe(200);
          expect(testApp.app.sessionCache.size).toBeLessThanOrEqual(3);
          expect(testApp.app.verifiedTokens.size).toBeLessThanOrEqual(2);
        }
      }
      expect(testApp.app.sessionCache.size).toBe(3);
      expect(testApp.app.verifiedTokens.size).toBe(2);
      // Evicted or not, every session is still checked.
      const [first] = sessions;
      expect((await logout(testApp, first.access_token)).statusCode).toBe(200);
      expect((await validate(testApp, first.access_token)).statusCode).toBe(401);
    } finally {
      await testApp.close();
    }
  });

  it('a cached session past its idle expiry is read again: refreshed elsewhere it stays, else it ends', async () => {
    const testApp = await startAppWithFeedProxy();
    try {
      await until(() => testApp.app.sessionCache.isCurrent(), 10_000, 'the feed to listen');
      const user = await createUser(testApp.db);
      const applicationId = (await createApplication(testApp.db, { idleTimeoutSeconds: 60 })).id;
      const start = Math.floor(Date.now() / 1000) * 1000;
      const [refreshed, idle] = await atTime(start, () => logins(testApp, user, applicationId, 2));
      for (const session of [refreshed, idle]) {
        await atTime(start + 10_000, () => cached(testApp, session.access_token));
      }
      // A refresh moves the idle expiry later without notifying anyone.
      const renewed = await atTime(start + 50_000, () => refresh(testApp, refreshed.refresh_token));
      expect(renewed.statusCode).toBe(200);
      await atTime(start + 70_000, async () => {
        expect((await validate(testApp, refreshed.access_token)).statusCode).toBe(200);
        expect((await validate(testApp, idle.access_token)).statusCode).toBe(401);
      });
    } finally {
      await testApp.close();
    }
  });

  it('a token remembered as verified is refused once past its exp, and still needs its session', async () => {
    const testApp = await startAppWithFeedProxy();
    try {
      const user = await createUser(testApp.db);
      const applicationId = (await createApplication(testApp.db, { accessTokenTtlSeconds: 60 })).id;
      const start = Math.floor(Date.now() / 1000) * 1000;
      const session = await atTime(start, () => login(testApp, user, applicationId));
      expect((await atTime(start + 1_000, () => validate(testApp, session.access_token))).statusCode).toBe(200);
      expect(testApp.app.verifiedTokens.size).toBe(1);
      expect((await atTime(start + 59_999, () => validate(testApp, session.access_token))).statusCode).toBe(200);
      expect((await atTime(start + 60_000, () => validate(testApp, session.access_token))).statusCode).toBe(401);
      expect((await atTime(start + 30_000, () => validate(testApp, session.access_token))).statusCode).toBe(200);
      expect((await atTime(start + 30_000, () => logout(testApp, session.access_token))).statusCode).toBe(200);
      expect((await atTime(start + 30_000, () => validate(testApp, session.access_token))).statusCode).toBe(401);
    } finally {
      await testApp.close();
    }
  });

  it('SESSION_CACHE_MAX_ENTRIES=0: no LISTEN connection, every validation reads the database', async () => {
    const testApp = await startAppWithFeedProxy({
      SESSION_CACHE_MAX_ENTRIES: '0',
      VERIFIED_TOKEN_CACHE_MAX_ENTRIES: '0',
    });
    try {
      const user = await createUser(testApp.db);
      const applicationId = (await createApplication(testApp.db)).id;
      const session = await login(testApp, user, applicationId);
      for (let i = 0; i < 3; i++) expect((await validate(testApp, session.access_token)).statusCode).toBe(200);
      expect(testApp.app.sessionCache.stats).toEqual({ hits: 0, loads: 3 });
      expect(testApp.app.verifiedTokens.size).toBe(0);
      expect(testApp.proxy.openConnections).toBe(0);
      expect(await feedBackends(testApp)).toBe(0);
      expect((await logout(testApp, session.access_token)).statusCode).toBe(200);
      expect((await validate(testApp, session.access_token)).statusCode).toBe(401);
    } finally {
      await testApp.close();
    }
  });

  it('closes its LISTEN connection with the app', async () => {
    const database = await createTestDatabase();
    try {
      const app = await buildApp(loadAuthServiceConfig(testEnv(database.url, { DATA_DIR: tempDataDir() })));
      const testApp = { app, db: app.db } as TestApp;
      await until(() => app.sessionCache.isCurrent(), 10_000, 'the feed to listen');
      expect(await feedBackends(testApp)).toBe(1);
      await app.close();
      expect(app.sessionCache.isCurrent()).toBe(false);
      const observer = createPrismaClient(database.url);
      try {
        await until(async () => (await feedBackends({ db: observer } as TestApp)) === 0, 5_000, 'the backend to go');
      } finally {
        await observer.$disconnect();
      }
    } finally {
      await database.drop();
    }
  });
});
