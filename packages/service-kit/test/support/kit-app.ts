// Helpers of the rate-limit and security tests (not a test file itself: vitest only runs `*.test.ts`).
import { randomUUID } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import {
  baseFastifyOptions,
  type ErrorHandlerOptions,
  errorHandler,
  metricsPlugin,
  rateLimitPlugin,
  requestLogging,
  securityOptions,
  securityPlugin,
} from '../../src/index.js';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface KitAppOptions {
  TRUST_PROXY?: string;
  BODY_LIMIT_BYTES?: number;
  CORS_ORIGINS?: string;
  REDIS_URL?: string;
  keyPrefix?: string;
  globalPerMinute?: number;
  credentialsPerMinute?: number;
  perTokenPerMinute?: number;
  statusOverrides?: ErrorHandlerOptions['statusOverrides'];
  /** Keeps Prometheus metrics (`app.metrics`), registered where the apps register it. */
  metrics?: boolean;
}

/**
 * A service assembled from the kit the way both apps do it (request id, error handler, security headers, rate
 * limits), with routes that stand for the apps' kinds of routes; its log lines (warn and above) are collected.
 */
export async function buildKitApp(options: KitAppOptions = {}) {
  const logLines: Array<{ level: number; msg: string; [key: string]: unknown }> = [];
  const config = {
    LOG_LEVEL: 'silent',
    NODE_ENV: 'test',
    TRUST_PROXY: options.TRUST_PROXY ?? 'false',
    BODY_LIMIT_BYTES: options.BODY_LIMIT_BYTES ?? 65_536,
  };
  const app = Fastify({
    ...baseFastifyOptions(config, 'test'),
    logger: { level: 'info', stream: { write: (line: string) => logLines.push(JSON.parse(line)) } },
  });
  await app.register(requestLogging);
  if (options.metrics) await app.register(metricsPlugin, { service: 'kit-test' });
  await app.register(errorHandler, options.statusOverrides ? { statusOverrides: options.statusOverrides } : {});
  await app.register(securityPlugin, securityOptions({ CORS_ORIGINS: options.CORS_ORIGINS }));
  await app.register(rateLimitPlugin, {
    globalPerMinute: options.globalPerMinute ?? 1_000,
    perTokenPerMinute: options.perTokenPerMinute ?? 1_000,
    redisUrl: options.REDIS_URL,
    keyPrefix: options.keyPrefix ?? uniqueKeyPrefix(),
  });

  const credentials = { rateLimit: { max: options.credentialsPerMinute ?? 3, timeWindow: 60_000 } };
  const grouped = { rateLimit: { ...credentials.rateLimit, groupId: 'credential-checks' } };
  app.get('/svc/health', { config: { rateLimit: false } }, async () => ({ status: 'ok' }));
  app.get('/svc/things', async (request) => ({ ip: request.ip }));
  app.post('/svc/login', { config: credentials }, async (request) => ({ ip: request.ip }));
  app.post('/svc/grouped/a', { config: grouped }, async () => ({ route: 'a' }));
  app.post('/svc/grouped/b', { config: grouped }, async () => ({ route: 'b' }));
  app.post(
    '/svc/validate',
    { config: { rateLimit: app.rateLimits.perBearerToken, securityHeaders: false } },
    async () => ({ valid: true }),
  );
  app.post('/svc/echo', async (request) => ({ received: JSON.stringify(request.body).length }));
  await app.ready();

  const warnings = () => logLines.filter((line) => line.level === 40).map((line) => line.msg);
  return { app, logLines, warnings };
}

/** A Redis key prefix of one test, so that tests running at once never share counters. */
export function uniqueKeyPrefix(): string {
  return `mxp-test:${randomUUID()}:`;
}

/** Deletes the keys of a test's prefix (they would expire within a minute anyway). */
export async function deleteKeys(keyPrefix: string): Promise<string[]> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  try {
    await redis.connect();
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    return keys;
  } finally {
    redis.disconnect();
  }
}

/** A TCP port on loopback with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A TCP proxy in front of the local Redis that a test can take away (`stop`: the port refuses connections, open
 * ones are cut), bring back on the same port (`start`), or make unresponsive (`hang`: bytes are swallowed).
 */
export async function redisProxy() {
  const target = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  let hanging = false;
  let server: Server | undefined;
  let port = 0;

  async function start() {
    server = createServer((client) => {
      const redis = connect(Number(target.port || 6379), target.hostname);
      sockets.add(client);
      sockets.add(redis);
      client.on('data', (chunk: Buffer) => {
        if (!hanging) redis.write(chunk);
      });
      redis.on('data', (chunk: Buffer) => {
        if (!hanging) client.write(chunk);
      });
      const closeBoth = () => {
        client.destroy();
        redis.destroy();
        sockets.delete(client);
        sockets.delete(redis);
      };
      client.on('close', closeBoth);
      redis.on('close', closeBoth);
      client.on('error', closeBoth);
      redis.on('error', closeBoth);
    });
    await new Promise<void>((resolve) => server?.listen(port, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  }

  async function stop() {
    const closing = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await closing;
    server = undefined;
  }

  await start();
  return {
    get url() {
      return `redis://127.0.0.1:${port}`;
    },
    start,
    stop,
    hang() {
      hanging = true;
    },
  };
}
