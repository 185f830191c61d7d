import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { helmetHeaders, securityOptions } from '../src/index.js';
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

describe('security headers (helmet)', () => {
  it('sends HSTS, nosniff, no framing and a CSP that allows nothing, on answers and errors alike', async () => {
    const { app } = await kitApp();
    for (const response of [
      await app.inject({ url: '/svc/things' }),
      await app.inject({ url: '/svc/nowhere' }),
      await app.inject({
        method: 'POST',
        url: '/svc/echo',
        payload: '{bad',
        headers: { 'content-type': 'application/json' },
      }),
    ]) {
      expect(response.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['x-frame-options']).toBe('DENY');
      expect(response.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
      expect(response.headers['referrer-policy']).toBe('no-referrer');
      expect(response.headers['x-powered-by']).toBeUndefined();
      for (const [name, value] of Object.entries(helmetHeaders())) expect(response.headers[name], name).toBe(value);
    }
  });

  it('are the headers helmet itself sets for these options (worked out once, not per request)', () => {
    expect(helmetHeaders()).toEqual({
      'content-security-policy': "default-src 'none';frame-ancestors 'none'",
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
      'origin-agent-cluster': '?1',
      'referrer-policy': 'no-referrer',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
      'x-dns-prefetch-control': 'off',
      'x-download-options': 'noopen',
      'x-frame-options': 'DENY',
      'x-permitted-cross-domain-policies': 'none',
      'x-xss-protection': '0',
    });
    // Other options give other headers: nothing is hard-wired.
    expect(helmetHeaders({ frameguard: { action: 'sameorigin' } })['x-frame-options']).toBe('SAMEORIGIN');
  });

  it('are left out on a route configured with `securityHeaders: false` (machine callers only)', async () => {
    const { app } = await kitApp();
    const response = await app.inject({ method: 'POST', url: '/svc/validate' });
    expect(response.statusCode).toBe(200);
    for (const name of Object.keys(helmetHeaders())) expect(response.headers[name], name).toBeUndefined();
  });
});

describe('CORS (@fastify/cors)', () => {
  const preflight = (app: KitApp['app'], origin: string) =>
    app.inject({
      method: 'OPTIONS',
      url: '/svc/login',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });

  it('is off without CORS_ORIGINS: no CORS header for any origin, no preflight route', async () => {
    const { app } = await kitApp();
    const response = await app.inject({ url: '/svc/things', headers: { origin: 'https://app.example' } });
    expect(response.statusCode).toBe(200);
    expect(Object.keys(response.headers).filter((name) => name.startsWith('access-control-'))).toEqual([]);
    const refused = await preflight(app, 'https://app.example');
    expect(refused.statusCode).toBe(404);
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('with CORS_ORIGINS allows exactly those origins', async () => {
    const { app } = await kitApp({ CORS_ORIGINS: 'https://app.example, http://localhost:5173' });
    const allowed = await app.inject({ url: '/svc/things', headers: { origin: 'https://app.example' } });
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(allowed.headers['access-control-allow-credentials']).toBeUndefined();
    expect(allowed.headers['access-control-expose-headers']).toContain('x-request-id');
    expect(allowed.headers.vary).toContain('Origin');

    const ok = await preflight(app, 'http://localhost:5173');
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('http://localhost:5173');
    expect(ok.headers['access-control-allow-methods']).toBe('GET, POST, DELETE');
    expect(ok.headers['access-control-allow-headers']).toBe('authorization, content-type, x-request-id');

    for (const origin of ['https://evil.example', 'https://app.example.evil.example', 'http://app.example', 'null']) {
      const other = await app.inject({ url: '/svc/things', headers: { origin } });
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
      expect((await preflight(app, origin)).headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it('reads CORS_ORIGINS as serialized origins (case of the host, default port, duplicates)', () => {
    expect(
      securityOptions({ CORS_ORIGINS: 'https://App.Example:443, https://app.example ,http://x.test:8080' }),
    ).toEqual({ corsOrigins: ['https://app.example', 'http://x.test:8080'] });
    expect(securityOptions({})).toEqual({ corsOrigins: [] });
  });
});

describe('body size limit (BODY_LIMIT_BYTES, default 64 KiB)', () => {
  const oneMegabyte = JSON.stringify({ data: 'x'.repeat(1024 * 1024) });

  it('refuses a 1 MB body with 413 in the envelope, quickly', async () => {
    const { app } = await kitApp();
    const started = performance.now();
    const response = await app.inject({
      method: 'POST',
      url: '/svc/echo',
      payload: oneMegabyte,
      headers: { 'content-type': 'application/json' },
    });
    expect(performance.now() - started).toBeLessThan(500);
    expect(response.statusCode).toBe(413);
    expect(response.json()).toEqual({
      code: 413,
      status: 'error',
      message: 'El cuerpo de la solicitud es demasiado grande',
    });
  });

  it('refuses it too when it arrives without Content-Length (chunked), and as 400 where a service maps 413', async () => {
    const { app } = await kitApp({ statusOverrides: { PAYLOAD_TOO_LARGE: 400 } });
    const started = performance.now();
    const response = await app.inject({
      method: 'POST',
      url: '/svc/echo',
      payload: Readable.from([oneMegabyte.slice(0, 600_000), oneMegabyte.slice(600_000)]),
      headers: { 'content-type': 'application/json' },
    });
    expect(performance.now() - started).toBeLessThan(500);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      code: 400,
      status: 'error',
      message: 'El cuerpo de la solicitud es demasiado grande',
    });
  });

  it('accepts a body within the limit', async () => {
    const { app } = await kitApp();
    const response = await app.inject({
      method: 'POST',
      url: '/svc/echo',
      payload: { data: 'x'.repeat(60_000) },
    });
    expect(response.statusCode).toBe(200);
  });
});
