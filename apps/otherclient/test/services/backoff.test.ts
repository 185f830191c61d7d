import { randomUUID } from 'node:crypto';
import type { PrismaClient } from '@mxp/db';
import type { BackoffPolicy } from '@mxp/db/backoff';
import { until } from '@mxp/testing/faults';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadOtherclientConfig } from '../../src/config.js';
import {
  authenticateClientWithBackoff,
  backoffPolicy,
  clearClientFailures,
  clearClientFailuresUnlessLocked,
  clientBackoffKey,
  reserveClientAttempt,
} from '../../src/services/backoff.js';
import type { ClientCache } from '../../src/services/client-cache.js';
import { rotateClientSecret, setClientStatus } from '../../src/services/clients.js';
import { newClient, startApp, type TestApp, type TestClient, untilNotified } from '../routes/support.js';

const POLICY: BackoffPolicy = { maxFailures: 5, baseSeconds: 30, maxSeconds: 900, resetSeconds: 900 };
const T0 = new Date('2031-05-01T10:00:00.000Z');

function at(start: Date, seconds: number): Date {
  return new Date(start.getTime() + seconds * 1000);
}

describe('brute-force backoff (otherclient.client_backoff)', () => {
  let testApp: TestApp;
  let db: PrismaClient;
  let pepper: string;
  beforeAll(async () => {
    testApp = await startApp();
    db = testApp.db;
    pepper = testApp.config.CLIENT_SECRET_PEPPER;
  });
  afterAll(async () => {
    await testApp?.close();
  });

  function row(key: string) {
    return db.clientBackoff.findUnique({ where: { key } });
  }

  function authenticate(client: TestClient, secret: string, now: Date, policy = POLICY) {
    return authenticateClientWithBackoff(db, pepper, policy, client.clientId, secret, now);
  }

  it('reads BACKOFF_* with the documented defaults', () => {
    const env = { DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/postgres', CLIENT_SECRET_PEPPER: 'p'.repeat(32) };
    expect(backoffPolicy(loadOtherclientConfig(env))).toEqual(POLICY);
    expect(
      backoffPolicy(
        loadOtherclientConfig({
          ...env,
          BACKOFF_MAX_FAILURES: '10',
          BACKOFF_BASE_SECONDS: '5',
          BACKOFF_MAX_SECONDS: '300',
          BACKOFF_RESET_SECONDS: '60',
        }),
      ),
    ).toEqual({ maxFailures: 10, baseSeconds: 5, maxSeconds: 300, resetSeconds: 60 });
    expect(() => loadOtherclientConfig({ ...env, BACKOFF_MAX_SECONDS: '0' })).toThrow(/BACKOFF_MAX_SECONDS/);
  });

  it('keys by the client id exactly as presented, bounded', () => {
    expect(clientBackoffKey('Abc-1')).toBe('Abc-1');
    expect(clientBackoffKey('x'.repeat(500))).toHaveLength(200);
  });

  it('refuses the right secret while locked, and accepts it once the lock ends; success forgets', async () => {
    const client = await newClient(testApp);
    const failures = [];
    for (let i = 0; i < 5; i++) failures.push(await authenticate(client, 'wrong', T0));
    expect(failures.map((result) => result.ok || result.reason)).toEqual(Array(5).fill('bad_secret'));
    expect(failures.map((result) => !result.ok && result.lockStarted?.seconds)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      30,
    ]);
    expect(await authenticate(client, client.clientSecret, at(T0, 29))).toEqual({ ok: false, reason: 'locked' });
    expect(await authenticate(client, client.clientSecret, at(T0, 30))).toMatchObject({ ok: true });
    expect(await row(client.clientId)).toBeNull();
    // Counted from zero again.
    for (let i = 0; i < 4; i++) await authenticate(client, 'wrong', at(T0, 31));
    expect(await authenticate(client, client.clientSecret, at(T0, 31))).toMatchObject({ ok: true });
  });

  it('throttles an unknown or disabled client id like an active one', async () => {
    const disabled = await newClient(testApp);
    await db.apiClient.update({ where: { id: disabled.clientId }, data: { status: 'disabled' } });
    const unknown = { clientId: 'no-such-client', clientSecret: 'x' };
    const reasons = async (client: TestClient) => {
      const out = [];
      for (let i = 0; i < 6; i++) {
        const result = await authenticate(client, client.clientSecret, T0);
        out.push(!result.ok && result.reason);
      }
      return out;
    };
    expect(await reasons(disabled)).toEqual([...Array(5).fill('disabled_client'), 'locked']);
    expect(await reasons(unknown)).toEqual([...Array(5).fill('unknown_client'), 'locked']);
  });

  it('lets 20 concurrent right secrets of an id with failures in, forgetting the failures (none counted)', async () => {
    const client = await newClient(testApp);
    for (let i = 0; i < 4; i++) await authenticate(client, 'wrong', T0);
    const results = await Promise.all(Array.from({ length: 20 }, () => authenticate(client, client.clientSecret, T0)));
    expect(results.every((result) => result.ok)).toBe(true);
    expect(await row(client.clientId)).toBeNull();
  });

  it('forgets failures after an uncounted success only when the id is not locked', async () => {
    const client = await newClient(testApp);
    expect(await clearClientFailuresUnlessLocked(db, client.clientId, T0)).toBe('cleared');
    for (let i = 0; i < 4; i++) await reserveClientAttempt(db, client.clientId, POLICY, T0);
    expect(await clearClientFailuresUnlessLocked(db, client.clientId, T0)).toBe('cleared');
    expect(await row(client.clientId)).toBeNull();
    for (let i = 0; i < 5; i++) await reserveClientAttempt(db, client.clientId, POLICY, T0);
    const locked = await row(client.clientId);
    expect(await clearClientFailuresUnlessLocked(db, client.clientId, at(T0, 29))).toBe('locked');
    expect(await row(client.clientId)).toEqual(locked);
    expect(await clearClientFailuresUnlessLocked(db, client.clientId, at(T0, 30))).toBe('cleared');
    expect(await row(client.clientId)).toBeNull();
  });

  it('counts 20 concurrent attempts exactly', async () => {
    const client = await newClient(testApp);
    const loose = { ...POLICY, maxFailures: 50 };
    await Promise.all(Array.from({ length: 20 }, () => reserveClientAttempt(db, client.clientId, loose, T0)));
    expect(await row(client.clientId)).toMatchObject({ failures: 20, lockCount: 0 });
    await clearClientFailures(db, client.clientId);

    const results = await Promise.all(Array.from({ length: 20 }, () => authenticate(client, 'wrong', T0)));
    const reasons = results.map((result) => !result.ok && result.reason);
    expect(reasons.filter((reason) => reason === 'bad_secret')).toHaveLength(5);
    expect(reasons.filter((reason) => reason === 'locked')).toHaveLength(15);
    expect(results.filter((result) => !result.ok && result.lockStarted)).toHaveLength(1);
  });

  it('grows the locks up to BACKOFF_MAX_SECONDS and forgets them after BACKOFF_RESET_SECONDS', async () => {
    const client = await newClient(testApp);
    const policy = { maxFailures: 2, baseSeconds: 10, maxSeconds: 35, resetSeconds: 100 };
    let now = T0;
    const lengths = [];
    for (let lock = 0; lock < 4; lock++) {
      await authenticate(client, 'wrong', now, policy);
      const second = await authenticate(client, 'wrong', now, policy);
      if (second.ok || !second.lockStarted) throw new Error('expected a lock');
      lengths.push(second.lockStarted.seconds);
      now = second.lockStarted.until;
    }
    expect(lengths).toEqual([10, 20, 35, 35]);
    await authenticate(client, 'wrong', at(now, 100), policy);
    const fresh = await authenticate(client, 'wrong', at(now, 100), policy);
    expect(!fresh.ok && fresh.lockStarted?.seconds).toBe(10);
  });
});

// The token endpoints pass the app's client cache: the same rules, plus the fast path (README, "Brute-force backoff").
describe('brute-force backoff with the client cache', () => {
  let testApp: TestApp;
  let db: PrismaClient;
  let pepper: string;
  let cache: ClientCache;
  beforeAll(async () => {
    testApp = await startApp();
    db = testApp.db;
    pepper = testApp.config.CLIENT_SECRET_PEPPER;
    cache = testApp.app.clientCache;
    backoffDb = db;
  });
  afterAll(async () => {
    await testApp?.close();
  });

  /** What the backoff statements go through (see `work`). */
  let backoffDb: PrismaClient;

  function authenticate(client: TestClient, secret: string, now = new Date(), policy = POLICY) {
    return authenticateClientWithBackoff(backoffDb ?? db, pepper, policy, client.clientId, secret, now, cache);
  }

  /** Authenticates until the cache holds the client (a read that overlapped any notification is not cached). */
  async function cached(client: TestClient): Promise<void> {
    await until(async () => {
      expect(await authenticate(client, client.clientSecret)).toMatchObject({ ok: true });
      return cache.peek(client.clientId) !== undefined;
    });
  }

  /** Database reads (client and backoff row) and backoff statements (count, clear) of the authentications `run` makes. */
  async function work(run: () => Promise<unknown>): Promise<{ reads: number; writes: number }> {
    const read = vi.spyOn(cache, 'read');
    let writes = 0;
    // Every backoff statement is raw SQL on the client authentication is given (reads go through the cache's own);
    // the proxy has no pool of its own (pgPoolOf), so they go through Prisma's raw queries.
    backoffDb = new Proxy(db, {
      get(target, property) {
        const value = Reflect.get(target, property);
        if (property !== '$queryRaw' && property !== '$queryRawUnsafe' && property !== '$executeRaw') return value;
        return (...args: unknown[]) => {
          writes++;
          return (value as (...args: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    try {
      await run();
      return { reads: read.mock.calls.length, writes };
    } finally {
      read.mockRestore();
      backoffDb = db;
    }
  }

  it('lets a right secret in without a write, and without any database access once the client is cached', async () => {
    const client = await newClient(testApp);
    expect(await work(() => authenticate(client, client.clientSecret))).toEqual({ reads: 1, writes: 0 });
    await cached(client);
    const results: unknown[] = [];
    expect(
      await work(async () => {
        for (let i = 0; i < 10; i++) results.push(await authenticate(client, client.clientSecret));
      }),
    ).toEqual({ reads: 0, writes: 0 });
    expect(results).toEqual(Array(10).fill(expect.objectContaining({ ok: true, usedPreviousSecret: false })));
    expect(await row(db, client.clientId)).toBeNull();
  });

  it('keeps a busy client in the cache: reads that overlap never drop it', async () => {
    const client = await newClient(testApp);
    const { reads, writes } = await work(async () => {
      let left = 400;
      const worker = async () => {
        while (left-- > 0) expect(await authenticate(client, client.clientSecret)).toMatchObject({ ok: true });
      };
      await Promise.all(Array.from({ length: 40 }, worker));
    });
    // The first 40 read (nothing cached yet); after that the cache serves.
    expect(reads).toBeLessThan(100);
    expect(writes).toBe(0);
  });

  it('counts a wrong secret on a cached client, which this process then stops serving from the cache at once', async () => {
    const client = await newClient(testApp);
    await cached(client);
    expect(await work(() => authenticate(client, 'wrong'))).toEqual({ reads: 1, writes: 1 });
    expect(await row(db, client.clientId)).toMatchObject({ failures: 1 });
    // The right secret now goes to the database (and forgets the failure), notification or not.
    expect(await work(() => authenticate(client, client.clientSecret))).toEqual({ reads: 1, writes: 1 });
    expect(await row(db, client.clientId)).toBeNull();
  });

  it('stops serving a client from the cache as soon as a wrong secret is seen, before reading the database', async () => {
    const client = await newClient(testApp);
    await cached(client);
    const read = cache.read.bind(cache);
    let servedDuringRead: unknown = 'not read';
    vi.spyOn(cache, 'read').mockImplementationOnce(async (clientId) => {
      servedDuringRead = cache.peek(clientId);
      return read(clientId);
    });
    try {
      expect(await authenticate(client, 'wrong')).toMatchObject({ ok: false, reason: 'bad_secret' });
    } finally {
      vi.restoreAllMocks();
    }
    expect(servedDuringRead).toBeUndefined();
  });

  it('lets the new secret in at once after a rotation this replica has not heard of yet', async () => {
    const client = await newClient(testApp);
    await cached(client);
    const { clientSecret } = await rotateClientSecret(db, pepper, client.clientId, 0, 'vitest');
    // Whether or not the notification has arrived: a cached row that refuses the secret is checked again, fresh.
    expect(await authenticate(client, clientSecret)).toMatchObject({ ok: true });
    expect(await row(db, client.clientId)).toBeNull();
  });

  it('drops the client from the cache before its backoff write starts', async () => {
    const client = await newClient(testApp);
    await cached(client);
    await cache.writingBackoff(client.clientId, async () => {
      // Nothing was awaited since the write began: no notification can have been handled yet.
      expect(cache.peek(client.clientId)).toBeUndefined();
    });
  });

  it('does not cache a read that overlapped a backoff write of this process', async () => {
    const client = await newClient(testApp);
    let release = () => {};
    const writing = cache.writingBackoff(client.clientId, () => new Promise<void>((resolve) => (release = resolve)));
    expect((await cache.read(client.clientId)).client?.id).toBe(client.clientId);
    expect(cache.peek(client.clientId)).toBeUndefined();
    release();
    await writing;
    // A read begun before a write that ended before the read did.
    const reading = cache.read(client.clientId);
    await cache.writingBackoff(client.clientId, async () => {});
    await reading;
    expect(cache.peek(client.clientId)).toBeUndefined();
    await cached(client);
  });

  it('while locked, refuses the right secret with the same work as a wrong one', async () => {
    const client = await newClient(testApp);
    await cached(client);
    for (let i = 0; i < 5; i++) await authenticate(client, 'wrong');
    for (const secret of [client.clientSecret, 'wrong']) {
      let result: unknown;
      expect(
        await work(async () => {
          result = await authenticate(client, secret);
        }),
      ).toEqual({ reads: 1, writes: 1 });
      expect(result).toEqual({ ok: false, reason: 'locked' });
    }
  });

  it('does the same work for every refusal: wrong secret of a cached client, unknown id, disabled client', async () => {
    const client = await newClient(testApp);
    const disabled = await newClient(testApp);
    await setClientStatus(db, disabled.clientId, 'disabled', 'vitest');
    await cached(client);
    const refusals: Array<[TestClient, string]> = [
      [client, 'wrong'],
      [{ clientId: '019a0000-0000-7000-8000-00000000abcd', clientSecret: 'x' }, 'x'],
      [disabled, disabled.clientSecret],
    ];
    for (const [credentials, secret] of refusals) {
      expect(await work(() => authenticate(credentials, secret))).toEqual({ reads: 1, writes: 1 });
    }
  });

  it('counts 20 concurrent wrong secrets on a cached client exactly', async () => {
    const client = await newClient(testApp);
    await cached(client);
    const results = await Promise.all(Array.from({ length: 20 }, () => authenticate(client, 'wrong')));
    const reasons = results.map((result) => !result.ok && result.reason);
    expect(reasons.filter((reason) => reason === 'bad_secret')).toHaveLength(5);
    expect(reasons.filter((reason) => reason === 'locked')).toHaveLength(15);
    expect(results.filter((result) => !result.ok && result.lockStarted)).toHaveLength(1);
    expect(await authenticate(client, client.clientSecret)).toEqual({ ok: false, reason: 'locked' });
  });

  it('honours a lock started elsewhere (another replica) once notified', async () => {
    const client = await newClient(testApp);
    await cached(client);
    // Another replica's five failures: the same upserts, made without this process's cache knowing.
    for (let i = 0; i < 5; i++) await reserveClientAttempt(db, client.clientId, POLICY);
    await untilNotified(testApp, client.clientId);
    expect(await authenticate(client, client.clientSecret)).toEqual({ ok: false, reason: 'locked' });
  });

  it('honours a change of the client made elsewhere once notified', async () => {
    const client = await newClient(testApp);
    await cached(client);
    await setClientStatus(db, client.clientId, 'disabled', 'vitest');
    await untilNotified(testApp, client.clientId);
    expect(await authenticate(client, client.clientSecret)).toEqual({ ok: false, reason: 'disabled_client' });
  });

  it('caches neither unknown ids nor disabled clients nor ids with failures', async () => {
    const before = cache.size;
    for (let i = 0; i < 20; i++) await authenticate({ clientId: randomUUID(), clientSecret: 'x' }, 'x');
    const disabled = await newClient(testApp);
    await setClientStatus(db, disabled.clientId, 'disabled', 'vitest');
    await authenticate(disabled, disabled.clientSecret);
    expect(cache.peek(disabled.clientId)).toBeUndefined();
    const failing = await newClient(testApp);
    await authenticate(failing, 'wrong');
    expect((await cache.read(failing.clientId)).backoff).toEqual({ lockedUntil: null });
    expect(cache.peek(failing.clientId)).toBeUndefined();
    expect(cache.size).toBe(before);
  });
});

function row(db: PrismaClient, key: string) {
  return db.clientBackoff.findUnique({ where: { key } });
}
