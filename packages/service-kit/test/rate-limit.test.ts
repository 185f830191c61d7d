import { Type } from 'typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { BaseConfigProperties } from '../src/config.js';
import { loadConfig, RateLimitConfigProperties, rateLimitOptions } from '../src/index.js';
import { buildKitApp } from './support/kit-app.js';

type KitApp = Awaited<ReturnType<typeof buildKitApp>>;
const opened: KitApp[] = [];
async function kitApp(options: Parameters<typeof buildKitApp>[0] = {}) {
  const built = await buildKitApp(options);
  opened.push(built);
  return built;
}
afterEach(async () => {
  await Promise.all(opened.splice(0).map(({ app }) => app.close()));
});

const RATE_LIMITED = { code: 429, status: 'error', message: 'Demasiadas solicitudes, intente más tarde' };

describe('rate limits (memory store)', () => {
  it('answers 429 in the envelope with Retry-After once an address exceeds a route limit', async () => {
    const { app } = await kitApp({ credentialsPerMinute: 2 });
    const remoteAddress = '198.51.100.1';
    const first = await app.inject({ method: 'POST', url: '/svc/login', remoteAddress });
    expect(first.statusCode).toBe(200);
    expect(first.headers['x-ratelimit-limit']).toBe('2');
    expect(first.headers['x-ratelimit-remaining']).toBe('1');
    expect((await app.inject({ method: 'POST', url: '/svc/login', remoteAddress })).statusCode).toBe(200);

    const limited = await app.inject({ method: 'POST', url: '/svc/login', remoteAddress });
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toEqual(RATE_LIMITED);
    const retryAfter = Number(limited.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers['x-request-id']).toBeDefined();
    // Security headers are on refusals too.
    expect(limited.headers['x-content-type-options']).toBe('nosniff');

    // Another address, and another route for the same address, have budgets of their own.
    expect((await app.inject({ method: 'POST', url: '/svc/login', remoteAddress: '198.51.100.2' })).statusCode).toBe(
      200,
    );
    expect((await app.inject({ method: 'GET', url: '/svc/things', remoteAddress })).statusCode).toBe(200);
  });

  it('applies the global limit to routes without a limit of their own, never to health', async () => {
    const { app } = await kitApp({ globalPerMinute: 2 });
    const remoteAddress = '198.51.100.3';
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await app.inject({ url: '/svc/things', remoteAddress })).statusCode);
    expect(statuses).toEqual([200, 200, 429]);
    for (let i = 0; i < 5; i++) {
      expect((await app.inject({ url: '/svc/health', remoteAddress })).statusCode).toBe(200);
    }
  });

  it('counts the routes of one groupId together (secret guesses cannot be spread over endpoints)', async () => {
    const { app } = await kitApp({ credentialsPerMinute: 3 });
    const remoteAddress = '198.51.100.4';
    const statuses = [];
    for (const route of ['a', 'b', 'a', 'b']) {
      statuses.push((await app.inject({ method: 'POST', url: `/svc/grouped/${route}`, remoteAddress })).statusCode);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    // The group does not eat into another limited route's budget.
    expect((await app.inject({ method: 'POST', url: '/svc/login', remoteAddress })).statusCode).toBe(200);
  });

  it('counts IPv6 clients per /64, so one host cannot rotate through its own addresses', async () => {
    const { app } = await kitApp({ credentialsPerMinute: 2 });
    const statuses = [];
    for (const host of ['1', '2', 'abcd:1']) {
      const remoteAddress = `2001:db8:1:2::${host}`;
      statuses.push((await app.inject({ method: 'POST', url: '/svc/login', remoteAddress })).statusCode);
    }
    expect(statuses).toEqual([200, 200, 429]);
  });
});

describe('X-Forwarded-For and TRUST_PROXY', () => {
  const login = (app: KitApp['app'], remoteAddress: string, forwardedFor?: string) =>
    app.inject({
      method: 'POST',
      url: '/svc/login',
      remoteAddress,
      headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
    });

  it('TRUST_PROXY=false: a client sending different X-Forwarded-For values still shares one bucket', async () => {
    const { app } = await kitApp({ TRUST_PROXY: 'false', credentialsPerMinute: 3 });
    const responses = [];
    for (let i = 0; i < 4; i++) responses.push(await login(app, '192.0.2.10', `203.0.113.${i}`));
    expect(responses.map((response) => response.statusCode)).toEqual([200, 200, 200, 429]);
    expect(responses[0]?.json()).toEqual({ ip: '192.0.2.10' });
  });

  it('TRUST_PROXY=<proxy address>: the client address from X-Forwarded-For is the key, forged hops are not', async () => {
    const proxy = '10.0.0.1';
    const { app } = await kitApp({ TRUST_PROXY: proxy, credentialsPerMinute: 2 });

    // Clients behind the proxy get a bucket each: the proxy itself is not throttled as one client.
    for (let i = 1; i <= 5; i++) {
      const response = await login(app, proxy, `203.0.113.${i}`);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ ip: `203.0.113.${i}` });
    }
    // One client through the proxy is limited, whatever it writes in front of its real address.
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await login(app, proxy, `198.51.100.${i}, 203.0.113.50`)).statusCode);
    expect(statuses).toEqual([200, 200, 429]);

    // A client that reaches the service directly (not through the trusted proxy) cannot choose its address.
    const direct = [];
    for (let i = 0; i < 3; i++) direct.push(await login(app, '192.0.2.77', `203.0.113.${100 + i}`));
    expect(direct.map((response) => response.statusCode)).toEqual([200, 200, 429]);
    expect(direct[0]?.json()).toEqual({ ip: '192.0.2.77' });
  });

  it('TRUST_PROXY=<CIDR>: proxies of a network are believed', async () => {
    const { app } = await kitApp({ TRUST_PROXY: '10.1.0.0/16', credentialsPerMinute: 1 });
    expect((await login(app, '10.1.2.3', '203.0.113.1')).json()).toEqual({ ip: '203.0.113.1' });
    expect((await login(app, '10.1.9.9', '203.0.113.2')).statusCode).toBe(200);
    expect((await login(app, '10.1.9.9', '203.0.113.1')).statusCode).toBe(429);
  });

  it('TRUST_PROXY=1 (one hop): the address the proxy appended is the key', async () => {
    const { app } = await kitApp({ TRUST_PROXY: '1', credentialsPerMinute: 1 });
    expect((await login(app, '10.0.0.1', 'forged, 203.0.113.9')).json()).toEqual({ ip: '203.0.113.9' });
    expect((await login(app, '10.0.0.2', 'other-forgery, 203.0.113.9')).statusCode).toBe(429);
  });
});

describe('per-token limit (app.rateLimits.perBearerToken, for /auth/token/validate)', () => {
  const validate = (app: KitApp['app'], token?: string, remoteAddress = '10.20.0.1') =>
    app.inject({
      method: 'POST',
      url: '/svc/validate',
      remoteAddress,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });

  it('does not throttle a gateway by its address: many tokens from one address all pass', async () => {
    const { app } = await kitApp({ globalPerMinute: 2, perTokenPerMinute: 2 });
    for (let i = 0; i < 20; i++) {
      expect((await validate(app, `token-of-user-${i}`)).statusCode).toBe(200);
    }
  });

  it('limits one token, whichever address presents it', async () => {
    const { app } = await kitApp({ perTokenPerMinute: 3 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await validate(app, 'stolen.token', `10.20.1.${i}`)).statusCode);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await validate(app, 'stolen.token');
    expect(limited.json()).toEqual(RATE_LIMITED);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.headers['x-ratelimit-limit']).toBe('3');
    // Other tokens are unaffected.
    expect((await validate(app, 'another.token')).statusCode).toBe(200);
  });

  it('counts requests without a bearer token per address, with the global limit', async () => {
    const { app } = await kitApp({ globalPerMinute: 2, perTokenPerMinute: 100 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await validate(app, undefined, '10.20.2.1')).statusCode);
    expect(statuses).toEqual([200, 200, 429]);
    expect((await validate(app, undefined, '10.20.2.2')).statusCode).toBe(200);
  });
});

describe('configuration', () => {
  const schema = Type.Object({ ...BaseConfigProperties, ...RateLimitConfigProperties });
  const base = { DATABASE_URL: 'postgresql://x@127.0.0.1/db' };

  it('defaults: memory counters, no CORS, generous per-token validation', () => {
    const config = loadConfig(schema, base);
    expect(config.REDIS_URL).toBeUndefined();
    expect(config.CORS_ORIGINS).toBeUndefined();
    expect(rateLimitOptions(config, 'svc')).toEqual({
      globalPerMinute: 1_000,
      perTokenPerMinute: 3_000,
      redisUrl: undefined,
      keyPrefix: 'mxp:svc:rate-limit:',
    });
  });

  it('takes REDIS_URL (redis:// or rediss://) and refuses anything else, naming the variable', () => {
    expect(loadConfig(schema, { ...base, REDIS_URL: 'rediss://:pw@cache:6380/1' }).REDIS_URL).toBe(
      'rediss://:pw@cache:6380/1',
    );
    expect(() => loadConfig(schema, { ...base, REDIS_URL: 'cache:6379' })).toThrow(/REDIS_URL/);
  });

  it('takes CORS_ORIGINS as exact origins only', () => {
    expect(loadConfig(schema, { ...base, CORS_ORIGINS: 'https://a.example, http://localhost:5173' }).CORS_ORIGINS).toBe(
      'https://a.example, http://localhost:5173',
    );
    for (const bad of ['*', 'https://a.example/path', 'a.example', 'https://*.example', 'https://u@a.example']) {
      expect(() => loadConfig(schema, { ...base, CORS_ORIGINS: bad })).toThrow(/CORS_ORIGINS/);
    }
  });
});
