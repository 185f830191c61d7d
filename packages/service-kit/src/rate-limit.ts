import { hash } from 'node:crypto';
import rateLimit, { type FastifyRateLimitStore, normalizeIP, type RateLimitOptions } from '@fastify/rate-limit';
import type { FastifyBaseLogger } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { Type } from 'typebox';
import { bearerTokenFrom } from './bearer-token.js';

/** Variables of the request limits, shared by both services (REDIS_URL is in the base configuration). */
export const RateLimitConfigProperties = {
  RATE_LIMIT_GLOBAL_PER_MINUTE: Type.Integer({
    minimum: 1,
    default: 1_000,
    description: 'Requests per minute per client address, on every route but health and token validation',
  }),
  RATE_LIMIT_CREDENTIALS_PER_MINUTE: Type.Integer({
    minimum: 1,
    default: 120,
    description: 'Requests per minute per client address on the routes that check credentials',
  }),
  RATE_LIMIT_VALIDATE_PER_TOKEN_PER_MINUTE: Type.Integer({
    minimum: 1,
    default: 3_000,
    description: 'Validations per minute of one bearer token (auth-service /auth/token/validate), whatever the caller',
  }),
};

export interface RateLimitPluginOptions {
  /** Requests per minute per client address on every route without a `config.rateLimit` of its own. */
  globalPerMinute: number;
  /** Requests per minute per bearer token on the routes that use `app.rateLimits.perBearerToken`. */
  perTokenPerMinute: number;
  /** Counters live in this Redis (shared by the replicas) when set, else in the process's memory. */
  redisUrl?: string | undefined;
  /** Prefix of every Redis key: one per service, so that two services sharing a Redis keep separate budgets. */
  keyPrefix: string;
  /** How long one Redis command (or the first connection at startup) may take before counting falls back to memory. */
  redisTimeoutMs?: number;
}

/** The plugin's options from a service's configuration. */
export function rateLimitOptions(
  config: {
    RATE_LIMIT_GLOBAL_PER_MINUTE: number;
    RATE_LIMIT_VALIDATE_PER_TOKEN_PER_MINUTE: number;
    REDIS_URL?: string | undefined;
  },
  serviceName: string,
): RateLimitPluginOptions {
  return {
    globalPerMinute: config.RATE_LIMIT_GLOBAL_PER_MINUTE,
    perTokenPerMinute: config.RATE_LIMIT_VALIDATE_PER_TOKEN_PER_MINUTE,
    redisUrl: config.REDIS_URL,
    keyPrefix: `mxp:${serviceName}:rate-limit:`,
  };
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Route limits built by the rate-limit plugin, for `config: { rateLimit: app.rateLimits.<name> }`. */
    rateLimits: {
      /**
       * One bucket per bearer token (keyed by its SHA-256), `RATE_LIMIT_VALIDATE_PER_TOKEN_PER_MINUTE` each, so callers
       * that validate for many users from one address (gateways) are not throttled by their address; a request
       * without a bearer token counts against its address with the global limit.
       */
      perBearerToken: RateLimitOptions;
    };
  }
}

const WINDOW_MS = 60_000;
/** Entries per memory counter table (one table per route or route group); the least recently used are dropped. */
const MEMORY_CAPACITY = 10_000;
/** At most one "Redis unavailable" warning per this interval, however many requests fall back meanwhile. */
const WARNING_INTERVAL_MS = 30_000;
/** After a failed command, Redis is left alone this long (a hung Redis costs one timeout, not one per request). */
const REDIS_PAUSE_AFTER_FAILURE_MS = 2_000;

interface Count {
  current: number;
  /** Milliseconds until the window (and the count) resets. */
  ttl: number;
}
type StoreCallback = (error: Error | null, result?: Count) => void;

/** Counters of one route (or route group) in this process's memory, bounded in size. */
class MemoryCounters {
  private readonly entries = new Map<string, { current: number; resetAt: number }>();

  increment(key: string, windowMs: number): Count {
    const now = Date.now();
    let entry = this.entries.get(key);
    if (!entry || entry.resetAt <= now) entry = { current: 0, resetAt: now + windowMs };
    entry.current += 1;
    // Re-inserted so that the Map's order is least recently used first.
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > MEMORY_CAPACITY) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    return { current: entry.current, ttl: entry.resetAt - now };
  }

  read(key: string): Count {
    const entry = this.entries.get(key);
    const now = Date.now();
    return entry && entry.resetAt > now ? { current: entry.current, ttl: entry.resetAt - now } : { current: 0, ttl: 0 };
  }
}

// INCR, and the window starts with the first request (a key somehow left without expiry gets one).
const INCREMENT_SCRIPT = `
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {current, ttl}
`;

type CountingRedis = Redis & {
  mxpRateLimitIncrement(key: string, windowMs: number): Promise<[number, number]>;
};

/**
 * Where the counters are: Redis when configured and reachable, else this process's memory. While Redis is
 * unreachable each replica counts on its own (the limits still hold per replica) and a warning is logged.
 */
class Counters {
  private readonly memory = new Map<string, MemoryCounters>();
  private lastWarningAt = 0;
  private redisPausedUntil = 0;
  private degraded = false;

  constructor(
    private readonly log: FastifyBaseLogger,
    private readonly redis: CountingRedis | undefined,
    private readonly keyPrefix: string,
  ) {}

  increment(table: string, key: string, windowMs: number, callback: StoreCallback): void {
    const { redis } = this;
    if (!redis) {
      callback(null, this.inMemory(table).increment(key, windowMs));
      return;
    }
    if (!this.redisUsable(redis)) {
      const reason = redis.status === 'ready' ? 'a recent command failed' : `connection ${redis.status}`;
      this.fallBack(new Error(`Redis unavailable (${reason})`));
      callback(null, this.inMemory(table).increment(key, windowMs));
      return;
    }
    redis.mxpRateLimitIncrement(`${this.keyPrefix}${table}${key}`, windowMs).then(
      ([current, ttl]) => {
        if (this.degraded) this.recovered();
        callback(null, { current, ttl });
      },
      (error: Error) => {
        this.redisPausedUntil = Date.now() + REDIS_PAUSE_AFTER_FAILURE_MS;
        this.fallBack(error);
        callback(null, this.inMemory(table).increment(key, windowMs));
      },
    );
  }

  read(table: string, key: string, callback: StoreCallback): void {
    const { redis } = this;
    if (!redis || !this.redisUsable(redis)) {
      callback(null, this.inMemory(table).read(key));
      return;
    }
    const fullKey = `${this.keyPrefix}${table}${key}`;
    Promise.all([redis.get(fullKey), redis.pttl(fullKey)]).then(
      ([current, ttl]) => callback(null, { current: Number(current ?? 0), ttl: Math.max(ttl, 0) }),
      () => callback(null, this.inMemory(table).read(key)),
    );
  }

  /** Logs (at most every WARNING_INTERVAL_MS) that counting has fallen back to memory. */
  fallBack(error: Error): void {
    this.degraded = true;
    const now = Date.now();
    if (now - this.lastWarningAt < WARNING_INTERVAL_MS) return;
    this.lastWarningAt = now;
    this.log.warn(
      { reason: error.message },
      'rate-limit counters: Redis unavailable, counting in this replica’s memory until it is back',
    );
  }

  recovered(): void {
    this.redisPausedUntil = 0;
    if (!this.degraded) return;
    this.degraded = false;
    this.lastWarningAt = 0;
    this.log.info('rate-limit counters: Redis reachable again, counters shared by the replicas');
  }

  private redisUsable(redis: Redis): boolean {
    return redis.status === 'ready' && Date.now() >= this.redisPausedUntil;
  }

  private inMemory(table: string): MemoryCounters {
    let counters = this.memory.get(table);
    if (!counters) {
      counters = new MemoryCounters();
      this.memory.set(table, counters);
    }
    return counters;
  }
}

/** What @fastify/rate-limit hands to `child()`: the route's merged limit options. */
interface ChildOptions {
  groupId?: string;
  routeInfo?: { method?: string | string[]; url?: string };
}

/**
 * The store given to @fastify/rate-limit. Each route with a limit of its own gets a table of its own, except that
 * routes with the same `groupId` share one table (the plugin's own stores would give each route its own counter).
 */
class CounterStore implements FastifyRateLimitStore {
  constructor(
    private readonly counters: Counters,
    private readonly table: string,
  ) {}

  incr(key: string, callback: StoreCallback, timeWindow: number): void {
    this.counters.increment(this.table, key, timeWindow, callback);
  }

  /** Serves `createRateLimit()(request, { increment: false })`. */
  read(key: string, callback: StoreCallback): void {
    this.counters.read(this.table, key, callback);
  }

  child(routeOptions: unknown): FastifyRateLimitStore {
    const { groupId, routeInfo } = routeOptions as ChildOptions;
    const method = [routeInfo?.method ?? ''].flat().join(',');
    return new CounterStore(this.counters, groupId ? `group:${groupId}:` : `route:${method}:${routeInfo?.url ?? ''}:`);
  }
}

/** A Redis client that never makes a request wait: commands fail fast while Redis is unreachable or slow. */
async function redisClient(url: string, timeoutMs: number, connectionName: string): Promise<CountingRedis> {
  // Loaded only when a Redis is configured: most deployments count in memory, and startup (readiness) should not pay
  // for parsing a client it never uses.
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    // A slow Redis is a Redis that is down: the request counts in memory instead of waiting.
    commandTimeout: timeoutMs,
    // No queueing while disconnected and no retry of a command: falling back to memory is immediate.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // Reconnects forever, at most every 2 s.
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    connectionName,
  }) as CountingRedis;
  redis.defineCommand('mxpRateLimitIncrement', { numberOfKeys: 1, lua: INCREMENT_SCRIPT });
  return redis;
}

/** Waits up to `timeoutMs` for the first connection; false when Redis is not there (it keeps reconnecting). */
async function firstConnection(redis: Redis, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const connected = redis.connect().then(
    () => true,
    () => false,
  );
  try {
    return await Promise.race([connected, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Limits requests per client address (`request.ip`, which honours TRUST_PROXY only, so a forged X-Forwarded-For
 * cannot mint new buckets; IPv6 addresses count per /64). Routes tighten the limit with `config.rateLimit`. Counters
 * are in memory, or in Redis with `redisUrl` so the replicas share them; while Redis is unreachable each replica
 * counts in its own memory and logs a warning (the service keeps serving, the limits hold per replica).
 */
export const rateLimitPlugin = fp<RateLimitPluginOptions>(
  async (app, options) => {
    const log = app.log.child({ plugin: 'rate-limit' });
    const timeoutMs = options.redisTimeoutMs ?? 500;
    const connectionName = options.keyPrefix.replace(/[^A-Za-z0-9:._-]/g, '').replace(/:$/, '');
    const redis = options.redisUrl ? await redisClient(options.redisUrl, timeoutMs, connectionName) : undefined;
    const counters = new Counters(log, redis, options.keyPrefix);
    // Registered before this plugin when the service keeps metrics.
    const metrics = app.hasDecorator('metrics') ? app.metrics : undefined;
    if (redis) {
      // Without an error listener ioredis prints every failed reconnection attempt to stderr.
      redis.on('error', (error: Error) => counters.fallBack(error));
      redis.on('ready', () => counters.recovered());
      app.addHook('onClose', async () => redis.disconnect());
      if (!(await firstConnection(redis, timeoutMs))) counters.fallBack(new Error('Redis did not answer at startup'));
    }

    await app.register(rateLimit, {
      global: true,
      max: options.globalPerMinute,
      timeWindow: WINDOW_MS,
      // The plugin instantiates the store class itself, with its own options.
      store: class extends CounterStore {
        constructor() {
          super(counters, 'global:');
        }
      },
      onExceeded: (request) => metrics?.countRateLimitRefusal(request.routeOptions.url ?? 'unmatched'),
      // Thrown into the service's error handler, which answers 429 in the service's own envelope.
      errorResponseBuilder: (_request, context) =>
        Object.assign(new Error(`Rate limit exceeded, retry in ${context.after}`), {
          statusCode: 429,
          code: 'ERR_RATE_LIMITED',
        }),
    });

    const tokenKeyPrefix = 'token:';
    app.decorate('rateLimits', {
      perBearerToken: {
        timeWindow: WINDOW_MS,
        keyGenerator: (request) => {
          const token = bearerTokenFrom(request.headers.authorization);
          return token
            ? `${tokenKeyPrefix}${hash('sha256', token, 'base64url')}`
            : `address:${normalizeIP(request.ip)}`;
        },
        max: (_request, key) => (key.startsWith(tokenKeyPrefix) ? options.perTokenPerMinute : options.globalPerMinute),
      },
    });
  },
  { name: 'mxp-rate-limit', fastify: '5.x' },
);
