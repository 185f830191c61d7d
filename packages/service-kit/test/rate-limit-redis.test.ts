// Against the real local Redis (REDIS_URL of the tests: TEST_REDIS_URL, default redis://127.0.0.1:6379).
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildKitApp, closedPort, deleteKeys, REDIS_URL, redisProxy, uniqueKeyPrefix } from './support/kit-app.js';

type KitApp = Awaited<ReturnType<typeof buildKitApp>>;
const opened: KitApp[] = [];
const cleanups: Array<() => Promise<unknown>> = [];
async function kitApp(options: Parameters<typeof buildKitApp>[0] = {}) {
  const built = await buildKitApp(options);
  opened.push(built);
  return built;
}
afterEach(async () => {
  await Promise.all(opened.splice(0).map(({ app }) => app.close()));
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

const login = (app: KitApp['app'], remoteAddress = '198.51.100.20') =>
  app.inject({ method: 'POST', url: '/svc/login', remoteAddress });

/** Runs `request` and tells how long it took. */
async function timed<T>(request: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await request();
  return { result, ms: performance.now() - started };
}

describe('rate limits in Redis (REDIS_URL)', () => {
  it('two replicas share one counter: the second is refused once the first used the budget', async () => {
    const keyPrefix = uniqueKeyPrefix();
    cleanups.push(() => deleteKeys(keyPrefix));
    const replicaA = await kitApp({ REDIS_URL, keyPrefix, credentialsPerMinute: 3 });
    const replicaB = await kitApp({ REDIS_URL, keyPrefix, credentialsPerMinute: 3 });

    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await login(replicaA.app)).statusCode);
    expect(statuses).toEqual([200, 200, 200]);

    const limited = await login(replicaB.app);
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toEqual({
      code: 429,
      status: 'error',
      message: 'Demasiadas solicitudes, intente más tarde',
    });
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Another address is still served by either replica.
    expect((await login(replicaB.app, '198.51.100.21')).statusCode).toBe(200);

    // The counter is one Redis key per route and address, expiring with its window.
    const redis = new Redis(REDIS_URL);
    cleanups.push(async () => redis.disconnect());
    const keys = await redis.keys(`${keyPrefix}*198.51.100.20`);
    expect(keys).toEqual([`${keyPrefix}route:POST:/svc/login:198.51.100.20`]);
    expect(await redis.get(keys[0] as string)).toBe('4');
    const ttl = await redis.pttl(keys[0] as string);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(replicaA.warnings()).toEqual([]);
  });

  it('shares the global limit, groups and per-token limits between replicas too', async () => {
    const keyPrefix = uniqueKeyPrefix();
    cleanups.push(() => deleteKeys(keyPrefix));
    const options = { REDIS_URL, keyPrefix, globalPerMinute: 2, credentialsPerMinute: 2, perTokenPerMinute: 2 };
    const [a, b] = [await kitApp(options), await kitApp(options)];
    const remoteAddress = '198.51.100.30';

    expect((await a.app.inject({ url: '/svc/things', remoteAddress })).statusCode).toBe(200);
    expect((await b.app.inject({ url: '/svc/things', remoteAddress })).statusCode).toBe(200);
    expect((await a.app.inject({ url: '/svc/things', remoteAddress })).statusCode).toBe(429);

    expect((await a.app.inject({ method: 'POST', url: '/svc/grouped/a', remoteAddress })).statusCode).toBe(200);
    expect((await b.app.inject({ method: 'POST', url: '/svc/grouped/b', remoteAddress })).statusCode).toBe(200);
    expect((await b.app.inject({ method: 'POST', url: '/svc/grouped/a', remoteAddress })).statusCode).toBe(429);

    const validate = (app: KitApp['app'], address: string) =>
      app.inject({
        method: 'POST',
        url: '/svc/validate',
        remoteAddress: address,
        headers: { authorization: 'Bearer t' },
      });
    expect((await validate(a.app, '10.30.0.1')).statusCode).toBe(200);
    expect((await validate(b.app, '10.30.0.2')).statusCode).toBe(200);
    expect((await validate(a.app, '10.30.0.3')).statusCode).toBe(429);
  });

  it('keeps services apart: another key prefix (another service) has budgets of its own', async () => {
    const [prefixA, prefixB] = [uniqueKeyPrefix(), uniqueKeyPrefix()];
    cleanups.push(
      () => deleteKeys(prefixA),
      () => deleteKeys(prefixB),
    );
    const serviceA = await kitApp({ REDIS_URL, keyPrefix: prefixA, credentialsPerMinute: 1 });
    const serviceB = await kitApp({ REDIS_URL, keyPrefix: prefixB, credentialsPerMinute: 1 });
    expect((await login(serviceA.app)).statusCode).toBe(200);
    expect((await login(serviceA.app)).statusCode).toBe(429);
    expect((await login(serviceB.app)).statusCode).toBe(200);
  });

  it('without REDIS_URL counts in each process’s memory: replicas do not share, Redis is not touched', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const replicaA = await kitApp({ keyPrefix, credentialsPerMinute: 1 });
    const replicaB = await kitApp({ keyPrefix, credentialsPerMinute: 1 });
    expect((await login(replicaA.app)).statusCode).toBe(200);
    expect((await login(replicaA.app)).statusCode).toBe(429);
    expect((await login(replicaB.app)).statusCode).toBe(200);
    expect(await deleteKeys(keyPrefix)).toEqual([]);
  });

  it('closes its Redis connection when the app closes', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const { app } = await buildKitApp({ REDIS_URL, keyPrefix });
    const admin = new Redis(REDIS_URL);
    cleanups.push(async () => admin.disconnect());
    const name = keyPrefix.replace(/:$/, '');
    const connectionsNamed = async () =>
      String(await admin.client('LIST'))
        .split('\n')
        .filter((line) => line.includes(` name=${name} `)).length;
    expect(await connectionsNamed()).toBe(1);
    await app.close();
    await vi.waitFor(async () => expect(await connectionsNamed()).toBe(0), { timeout: 2_000 });
  });
});

describe('when Redis is unavailable (documented choice: count in each replica’s memory, log a warning)', () => {
  it('starts and serves quickly when nothing listens at REDIS_URL, with a warning, and limits still hold', async () => {
    const url = `redis://127.0.0.1:${await closedPort()}`;
    const { result: built, ms: startup } = await timed(() => kitApp({ REDIS_URL: url, credentialsPerMinute: 3 }));
    expect(startup).toBeLessThan(2_000);

    const statuses = [];
    for (let i = 0; i < 4; i++) {
      const { result, ms } = await timed(() => login(built.app));
      expect(ms).toBeLessThan(1_000);
      statuses.push(result.statusCode);
    }
    // Served, and the limit still holds (per replica, in memory).
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(built.warnings()).toContain(
      'rate-limit counters: Redis unavailable, counting in this replica’s memory until it is back',
    );
    // One warning, not one per request or per reconnection attempt.
    expect(built.warnings()).toHaveLength(1);
    const { ms: closing } = await timed(() => built.app.close());
    expect(closing).toBeLessThan(1_000);
  });

  it('keeps serving when Redis goes away mid-flight, and shares counters again when it is back', async () => {
    const proxy = await redisProxy();
    cleanups.push(() => proxy.stop());
    const keyPrefix = uniqueKeyPrefix();
    cleanups.push(() => deleteKeys(keyPrefix));
    const replicaA = await kitApp({ REDIS_URL: proxy.url, keyPrefix, credentialsPerMinute: 2 });
    const replicaB = await kitApp({ REDIS_URL: proxy.url, keyPrefix, credentialsPerMinute: 2 });
    expect((await login(replicaA.app)).statusCode).toBe(200);
    expect(replicaA.warnings()).toEqual([]);

    await proxy.stop();
    for (let i = 0; i < 2; i++) {
      const { result, ms } = await timed(() => login(replicaA.app, `198.51.100.${40 + i}`));
      expect(result.statusCode).toBe(200);
      expect(ms).toBeLessThan(1_000);
    }
    expect(replicaA.warnings()).toEqual([
      'rate-limit counters: Redis unavailable, counting in this replica’s memory until it is back',
    ]);

    // Reconnection attempts fail for a while (refused), without more warnings.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(replicaA.warnings()).toHaveLength(1);

    // Back on the same address: both replicas reconnect by themselves and share the counter again.
    await proxy.start();
    const admin = new Redis(REDIS_URL);
    cleanups.push(async () => admin.disconnect());
    let probe = 0;
    await vi.waitFor(
      async () => {
        // Counted in Redis again by each replica: a request from a new address leaves a key there.
        for (const replica of [replicaA, replicaB]) {
          probe += 1;
          await login(replica.app, `192.0.2.${probe}`);
          expect(await admin.exists(`${keyPrefix}route:POST:/svc/login:192.0.2.${probe}`)).toBe(1);
        }
      },
      { timeout: 8_000, interval: 50 },
    );
    expect(replicaA.logLines.map((line) => line.msg)).toContain(
      'rate-limit counters: Redis reachable again, counters shared by the replicas',
    );
    // The first request (before the outage) is still counted in Redis: one more from A, and B is refused.
    expect((await login(replicaA.app)).statusCode).toBe(200);
    expect((await login(replicaB.app)).statusCode).toBe(429);
  }, 15_000);

  it('does not wait on a Redis that stopped answering: one bounded wait, then memory at once', async () => {
    const proxy = await redisProxy();
    cleanups.push(() => proxy.stop());
    const keyPrefix = uniqueKeyPrefix();
    cleanups.push(() => deleteKeys(keyPrefix));
    const { app, warnings } = await kitApp({ REDIS_URL: proxy.url, keyPrefix });
    expect((await login(app)).statusCode).toBe(200);

    proxy.hang();
    const first = await timed(() => login(app));
    expect(first.result.statusCode).toBe(200);
    expect(first.ms).toBeLessThan(1_000);
    expect(warnings()).toHaveLength(1);
    // Meanwhile Redis is left alone for a moment: the next requests do not pay the timeout again.
    const next = await timed(() => login(app, '198.51.100.50'));
    expect(next.result.statusCode).toBe(200);
    expect(next.ms).toBeLessThan(100);
  });
});
