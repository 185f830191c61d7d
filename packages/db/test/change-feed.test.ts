import { randomBytes, randomUUID } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ChangeFeed, type ChangeFeedOptions, NotifiedCache, startChangeFeed } from '../src/change-feed.js';
import { createTestDatabase, type TestDatabase } from '../src/testing.js';
import { queryAt } from './helpers.js';

const CHANNELS = ['mxp_auth_sessions', 'mxp_auth_users', 'mxp_auth_applications'];

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

/** Polls until `condition` holds (fails the test after `timeoutMs`). */
async function until(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Notification {
  channel: string;
  payload: string;
}

interface TestFeed {
  feed: ChangeFeed;
  notifications: Notification[];
  errors: Error[];
  listeningAgain: number;
  applicationName: string;
  /** Resolves with the first notification of `channel` and `payload` (already received or to come). */
  next(channel: string, payload: string): Promise<void>;
}

const feeds: ChangeFeed[] = [];
afterEach(async () => {
  await Promise.all(feeds.splice(0).map((feed) => feed.close()));
});

function startTestFeed(options: Partial<ChangeFeedOptions> = {}): TestFeed {
  const applicationName = `change-feed-test-${randomBytes(4).toString('hex')}`;
  const state: TestFeed = {
    feed: undefined as unknown as ChangeFeed,
    notifications: [],
    errors: [],
    listeningAgain: 0,
    applicationName,
    next: (channel, payload) =>
      until(
        () => state.notifications.some((n) => n.channel === channel && n.payload === payload),
        5_000,
        `a notification ${channel} ${payload}`,
      ),
  };
  state.feed = startChangeFeed({
    connectionString: database.url,
    channels: CHANNELS,
    applicationName,
    heartbeatMs: 100,
    onNotification: (channel, payload) => state.notifications.push({ channel, payload }),
    onError: (error) => state.errors.push(error),
    onListening: () => state.listeningAgain++,
    ...options,
  });
  feeds.push(state.feed);
  return state;
}

async function listening(test: TestFeed): Promise<void> {
  await until(() => test.feed.isCurrent(), 5_000, 'the feed to listen');
}

/** Runs `fn` in a transaction on its own connection, committed unless `rollback`. */
async function inTransaction(fn: (client: pg.Client) => Promise<void>, rollback = false): Promise<void> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await fn(client);
    await client.query(rollback ? 'ROLLBACK' : 'COMMIT');
  } finally {
    await client.end();
  }
}

async function insertUser(client?: pg.Client): Promise<string> {
  const id = randomUUID();
  const sql = `INSERT INTO auth.users (id, username, password_hash, updated_at) VALUES ($1, $2, 'x', now())`;
  if (client) await client.query(sql, [id, `user-${id}`]);
  else await queryAt(database.url, sql, [id, `user-${id}`]);
  return id;
}

async function insertApplication(): Promise<string> {
  const id = randomUUID();
  await queryAt(database.url, `INSERT INTO auth.applications (id, name, updated_at) VALUES ($1, $2, now())`, [
    id,
    `app-${id}`,
  ]);
  return id;
}

async function insertSession(userId: string, applicationId: string, client?: pg.Client): Promise<string> {
  const id = randomUUID();
  const sql = `INSERT INTO auth.sessions (id, user_id, application_id, idle_expires_at, absolute_expires_at)
    VALUES ($1, $2, $3, now() + interval '1 hour', now() + interval '2 hours')`;
  if (client) await client.query(sql, [id, userId, applicationId]);
  else await queryAt(database.url, sql, [id, userId, applicationId]);
  return id;
}

async function revoke(sessionId: string): Promise<void> {
  await queryAt(database.url, 'UPDATE auth.sessions SET revoked_at = now() WHERE id = $1', [sessionId]);
}

/** Terminates the feed's backend, as a failover or an administrator would. */
async function terminateBackend(test: TestFeed): Promise<number> {
  const rows = await queryAt<{ pid: number }>(
    database.url,
    'SELECT pg_terminate_backend(pid), pid FROM pg_stat_activity WHERE application_name = $1',
    [test.applicationName],
  );
  return rows.length;
}

describe('startChangeFeed', () => {
  it('refuses channel names that are not plain identifiers and staleness bounds below the heartbeat', () => {
    expect(() =>
      startChangeFeed({ connectionString: database.url, channels: ['x; DROP'], onNotification() {} }),
    ).toThrow(/invalid channel name/);
    expect(() =>
      startChangeFeed({
        connectionString: database.url,
        channels: CHANNELS,
        onNotification() {},
        heartbeatMs: 1_000,
        maxStalenessMs: 500,
      }),
    ).toThrow(/maxStalenessMs/);
  });

  it('is not current until it listens, then delivers a committed change', async () => {
    const test = startTestFeed();
    expect(test.feed.isCurrent()).toBe(false);
    await listening(test);
    expect(test.feed.generation).toBe(1);
    const userId = await insertUser();
    const sessionId = await insertSession(userId, await insertApplication());
    await revoke(sessionId);
    await test.next('mxp_auth_sessions', sessionId);
    expect(test.errors).toEqual([]);
  });

  it('delivers a change only once it is committed, and never one rolled back', async () => {
    const test = startTestFeed();
    await listening(test);
    const applicationId = await insertApplication();
    const userId = await insertUser();
    const committed = await insertSession(userId, applicationId);
    const rolledBack = await insertSession(userId, applicationId);

    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query('UPDATE auth.sessions SET revoked_at = now() WHERE id = $1', [committed]);
      // Several heartbeats go by: the feed is current, yet nothing of the open transaction has been delivered.
      await sleep(300);
      expect(test.feed.isCurrent()).toBe(true);
      expect(test.notifications).toEqual([]);
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
    await test.next('mxp_auth_sessions', committed);

    await inTransaction(async (tx) => {
      await tx.query('UPDATE auth.sessions SET revoked_at = now() WHERE id = $1', [rolledBack]);
      await tx.query('DELETE FROM auth.sessions WHERE id = $1', [rolledBack]);
    }, true);
    // Notifications come in commit order: once a later change is delivered, the rolled-back one never will be.
    const fence = await insertUser();
    await queryAt(database.url, `UPDATE auth.users SET status = 'disabled' WHERE id = $1`, [fence]);
    await test.next('mxp_auth_users', fence);
    expect(test.notifications.filter((n) => n.payload === rolledBack)).toEqual([]);
  });

  it('notifies what a session cache must hear of, and not the refreshes that only extend a session', async () => {
    const test = startTestFeed();
    await listening(test);
    const applicationId = await insertApplication();
    const userId = await insertUser();
    const refreshed = await insertSession(userId, applicationId);
    const deleted = await insertSession(userId, applicationId);
    await queryAt(
      database.url,
      `UPDATE auth.sessions SET idle_expires_at = now() + interval '90 minutes', last_seen_at = now(),
       refresh_count = refresh_count + 1 WHERE id = $1`,
      [refreshed],
    );
    await queryAt(database.url, 'DELETE FROM auth.sessions WHERE id = $1', [deleted]);
    // A hash upgraded at login (same password) and a status set to what it was change nothing a cache holds.
    await queryAt(database.url, `UPDATE auth.users SET password_hash = 'y', status = 'active' WHERE id = $1`, [userId]);
    await queryAt(database.url, `UPDATE auth.users SET password_changed_at = now() WHERE id = $1`, [userId]);
    await queryAt(database.url, `UPDATE auth.applications SET status = 'disabled' WHERE id = $1`, [applicationId]);
    await test.next('mxp_auth_applications', applicationId);
    expect(test.notifications).toEqual([
      { channel: 'mxp_auth_sessions', payload: deleted },
      { channel: 'mxp_auth_users', payload: userId },
      { channel: 'mxp_auth_applications', payload: applicationId },
    ]);
  });

  it('after its connection is terminated: not current at once, then listens again under a new generation', async () => {
    const currentWhenTold: boolean[] = [];
    const test = startTestFeed({ onError: () => currentWhenTold.push(test.feed.isCurrent()) });
    await listening(test);
    const { epoch, generation } = test.feed;
    expect(await terminateBackend(test)).toBe(1);
    await until(() => currentWhenTold.length > 0, 5_000, 'the error to be reported');
    expect(currentWhenTold[0]).toBe(false);
    expect(test.feed.epoch).toBeGreaterThan(epoch);

    await until(() => test.feed.isCurrent(), 5_000, 'the feed to reconnect');
    expect(test.feed.generation).toBe(generation + 1);
    expect(test.listeningAgain).toBe(1);
    // It listens to every channel again.
    const userId = await insertUser();
    await queryAt(database.url, `UPDATE auth.users SET status = 'disabled' WHERE id = $1`, [userId]);
    await test.next('mxp_auth_users', userId);
  });

  it('stops vouching when heartbeats go unanswered on a silent connection, and recovers when it answers again', async () => {
    const proxy = await startFreezableProxy(new URL(database.url));
    try {
      const url = new URL(database.url);
      url.host = `127.0.0.1:${proxy.port}`;
      const test = startTestFeed({
        connectionString: url.toString(),
        heartbeatMs: 100,
        maxStalenessMs: 300,
        connectTimeoutMs: 300,
        maxReconnectDelayMs: 300,
      });
      await listening(test);
      const generation = test.feed.generation;
      proxy.freeze();
      const frozenAt = performance.now();
      await until(() => !test.feed.isCurrent(), 2_000, 'the feed to stop vouching');
      // Within the staleness bound (plus a heartbeat's period and some scheduling slack), never later.
      expect(performance.now() - frozenAt).toBeLessThan(300 + 100 + 150);
      await until(() => test.errors.length > 0, 2_000, 'the heartbeat to time out');
      proxy.thaw();
      await until(() => test.feed.isCurrent(), 10_000, 'the feed to reconnect');
      expect(test.feed.generation).toBeGreaterThan(generation);
    } finally {
      await proxy.close();
    }
  });

  it('never vouches through a connection that does not carry notifications back (a proxy that drops them)', async () => {
    const proxy = await startFreezableProxy(new URL(database.url), { dropNotifications: true });
    try {
      const url = new URL(database.url);
      url.host = `127.0.0.1:${proxy.port}`;
      const test = startTestFeed({ connectionString: url.toString(), heartbeatMs: 100, maxStalenessMs: 300 });
      await until(() => test.errors.length > 0, 5_000, 'the feed to give up on the connection');
      expect(test.errors[0]?.message).toMatch(/does not hear its own notifications/);
      // It did listen (and would have delivered), yet never vouched.
      expect(test.feed.generation).toBeGreaterThanOrEqual(1);
      expect(test.feed.isCurrent()).toBe(false);
      const cache = new NotifiedCache<{ userId: string }>(test.feed, { maxEntries: 10, maxAgeMs: 60_000 });
      await cache.getOrLoad('s1', async () => ({ userId: 'u1' }));
      expect(cache.size).toBe(0);
    } finally {
      await proxy.close();
    }
  });

  it('closes without reporting an error, and its backend goes away', async () => {
    const test = startTestFeed();
    await listening(test);
    await test.feed.close();
    expect(test.feed.isCurrent()).toBe(false);
    expect(test.errors).toEqual([]);
    const rows = await queryAt(database.url, 'SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [
      test.applicationName,
    ]);
    expect(rows).toEqual([]);
    // Closing again is harmless.
    await test.feed.close();
  });

  it('reconnects when a notification handler throws, so caches start over', async () => {
    let failures = 1;
    const test = startTestFeed({
      onNotification: (channel, payload) => {
        test.notifications.push({ channel, payload });
        if (failures-- > 0) throw new Error('handler failed');
      },
    });
    await listening(test);
    const userId = await insertUser();
    await queryAt(database.url, `UPDATE auth.users SET status = 'disabled' WHERE id = $1`, [userId]);
    await test.next('mxp_auth_users', userId);
    await until(() => test.feed.generation === 2 && test.feed.isCurrent(), 5_000, 'the feed to reconnect');
    expect(test.errors.map((error) => error.message)).toEqual(['handler failed']);
  });
});

describe('NotifiedCache', () => {
  interface Row {
    userId: string;
  }

  /** A loader that counts its calls. */
  function loader(row: Row | undefined) {
    const calls = { count: 0 };
    const load = async () => {
      calls.count++;
      return row;
    };
    return { calls, load };
  }

  it('caches what it loads while the feed is current, never undefined, and nothing before the feed listens', async () => {
    const test = startTestFeed();
    const cache = new NotifiedCache<Row>(test.feed, { maxEntries: 10, maxAgeMs: 60_000 });
    const { calls, load } = loader({ userId: 'u1' });
    await cache.getOrLoad('s1', load);
    expect(cache.size).toBe(0);
    await listening(test);
    await cache.getOrLoad('s1', load);
    expect(await cache.getOrLoad('s1', load)).toEqual({ userId: 'u1' });
    expect(calls.count).toBe(2);
    expect(cache.get('s1')).toEqual({ userId: 'u1' });
    expect(await cache.getOrLoad('gone', async () => undefined)).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  it('does not cache a load that a notification raced with', async () => {
    const test = startTestFeed();
    await listening(test);
    const cache = new NotifiedCache<Row>(test.feed, { maxEntries: 10, maxAgeMs: 60_000 });
    const applicationId = await insertApplication();
    const userId = await insertUser();
    const sessionId = await insertSession(userId, applicationId);
    // The row is read, then revoked and notified before the load returns: what it read must not be trusted.
    const raced = await cache.getOrLoad(sessionId, async () => {
      const [row] = await queryAt<{ user_id: string }>(
        database.url,
        'SELECT user_id FROM auth.sessions WHERE id = $1',
        [sessionId],
      );
      await revoke(sessionId);
      await test.next('mxp_auth_sessions', sessionId);
      return row ? { userId: row.user_id } : undefined;
    });
    expect(raced).toEqual({ userId });
    expect(cache.get(sessionId)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('does not cache a load whose key was deleted meanwhile (a local revocation)', async () => {
    const test = startTestFeed();
    await listening(test);
    const cache = new NotifiedCache<Row>(test.feed, { maxEntries: 10, maxAgeMs: 60_000 });
    await cache.getOrLoad('s1', async () => {
      cache.delete('s1');
      return { userId: 'u1' };
    });
    expect(cache.size).toBe(0);
    // Another key's deletion does not concern it.
    await cache.getOrLoad('s2', async () => {
      cache.delete('s3');
      return { userId: 'u1' };
    });
    expect(cache.get('s2')).toEqual({ userId: 'u1' });
    // A deletion by value cannot tell what a load will return: it spoils every load in progress.
    await cache.getOrLoad('s4', async () => {
      cache.deleteWhere((row) => row.userId === 'nobody');
      return { userId: 'u1' };
    });
    expect(cache.get('s4')).toBeUndefined();
  });

  it('serves nothing while the feed is down, and nothing cached before it reconnected', async () => {
    const test = startTestFeed();
    await listening(test);
    const cache = new NotifiedCache<Row>(test.feed, { maxEntries: 10, maxAgeMs: 60_000 });
    const { calls, load } = loader({ userId: 'u1' });
    await cache.getOrLoad('s1', load);
    expect(cache.get('s1')).toBeDefined();
    await terminateBackend(test);
    await until(() => !test.feed.isCurrent(), 5_000, 'the feed to go down');
    expect(cache.get('s1')).toBeUndefined();
    await cache.getOrLoad('s1', load);
    expect(calls.count).toBe(2);
    await until(() => test.feed.isCurrent(), 5_000, 'the feed to reconnect');
    // Held from before the outage: a change may have been missed, so it is loaded again.
    expect(cache.get('s1')).toBeUndefined();
    await cache.getOrLoad('s1', load);
    expect(calls.count).toBe(3);
    expect(cache.get('s1')).toEqual({ userId: 'u1' });
  });

  it('keeps at most maxEntries, dropping the least recently used first, and nothing older than maxAgeMs', async () => {
    const test = startTestFeed();
    await listening(test);
    const cache = new NotifiedCache<Row>(test.feed, { maxEntries: 3, maxAgeMs: 60_000 });
    for (const key of ['a', 'b', 'c']) await cache.getOrLoad(key, async () => ({ userId: key }));
    cache.get('a');
    for (const key of ['d', 'e']) await cache.getOrLoad(key, async () => ({ userId: key }));
    expect(cache.size).toBe(3);
    expect(['a', 'b', 'c', 'd', 'e'].filter((key) => cache.get(key) !== undefined)).toEqual(['a', 'd', 'e']);
    for (let i = 0; i < 1_000; i++) await cache.getOrLoad(`k${i}`, async () => ({ userId: 'many' }));
    expect(cache.size).toBe(3);

    const shortLived = new NotifiedCache<Row>(test.feed, { maxEntries: 3, maxAgeMs: 50 });
    await shortLived.getOrLoad('a', async () => ({ userId: 'a' }));
    expect(shortLived.get('a')).toBeDefined();
    await sleep(80);
    expect(shortLived.get('a')).toBeUndefined();
  });

  it('deletes by value, clears, and with maxEntries 0 keeps nothing', async () => {
    const test = startTestFeed();
    await listening(test);
    const cache = new NotifiedCache<Row>(test.feed, { maxEntries: 100, maxAgeMs: 0 });
    for (let i = 0; i < 50; i++) await cache.getOrLoad(`s${i}`, async () => ({ userId: i % 2 === 0 ? 'even' : 'odd' }));
    cache.deleteWhere((row) => row.userId === 'even');
    expect(cache.size).toBe(25);
    expect(cache.get('s0')).toBeUndefined();
    expect(cache.get('s1')).toEqual({ userId: 'odd' });
    cache.clear();
    expect(cache.size).toBe(0);

    const off = new NotifiedCache<Row>(test.feed, { maxEntries: 0, maxAgeMs: 0 });
    const { calls, load } = loader({ userId: 'u1' });
    await off.getOrLoad('s1', load);
    await off.getOrLoad('s1', load);
    expect(calls.count).toBe(2);
    expect(off.size).toBe(0);
    expect(() => new NotifiedCache<Row>(test.feed, { maxEntries: -1, maxAgeMs: 0 })).toThrow(RangeError);
  });
});

/**
 * A TCP proxy to the database that can stop passing bytes (a silently broken network) and start again, or pass
 * everything but the server's notifications (what a proxy that cannot carry LISTEN/NOTIFY amounts to).
 */
async function startFreezableProxy(target: URL, { dropNotifications = false } = {}) {
  let frozen = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((downstream) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    sockets.add(downstream);
    sockets.add(upstream);
    downstream.on('data', (chunk) => {
      if (!frozen) upstream.write(chunk);
    });
    // Server messages are a type byte and a 4-byte length (which counts itself); 'A' is NotificationResponse.
    let pending = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      if (frozen) return;
      if (!dropNotifications) {
        downstream.write(chunk);
        return;
      }
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 5) {
        const size = 1 + pending.readUInt32BE(1);
        if (pending.length < size) break;
        if (pending[0] !== 0x41) downstream.write(pending.subarray(0, size));
        pending = pending.subarray(size);
      }
    });
    for (const socket of [downstream, upstream]) {
      socket.on('error', () => undefined);
      socket.on('close', () => {
        downstream.destroy();
        upstream.destroy();
        sockets.delete(socket);
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    freeze: () => {
      frozen = true;
    },
    thaw: () => {
      frozen = false;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
