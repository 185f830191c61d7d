import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadAuthServiceConfig } from '../../src/config.js';
import { startTestApp, testEnv } from '../helpers.js';

describe('GET /auth/health', () => {
  let testApp: Awaited<ReturnType<typeof startTestApp>>;
  beforeAll(async () => {
    testApp = await startTestApp();
  });
  afterAll(async () => {
    await testApp.close();
  });

  it('answers {"status":"ok"} when the database answers', async () => {
    const response = await testApp.app.inject({ method: 'GET', url: '/auth/health' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok' });
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('keeps a well-formed X-Request-Id from the ingress and replaces a malformed one', async () => {
    const kept = await testApp.app.inject({ url: '/auth/health', headers: { 'x-request-id': 'ingress-42' } });
    expect(kept.headers['x-request-id']).toBe('ingress-42');
    const replaced = await testApp.app.inject({ url: '/auth/health', headers: { 'x-request-id': 'bad id\u0007' } });
    expect(replaced.headers['x-request-id']).not.toBe('bad id\u0007');
  });

  it('answers an unknown route with 404 in the envelope', async () => {
    const response = await testApp.app.inject({ method: 'GET', url: '/auth/nope' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ code: 404, status: 'error', message: 'Recurso no encontrado' });
  });
});

describe('GET /auth/health without a database', () => {
  it('answers 503 in the envelope within a bounded time', async () => {
    // Port 1 on loopback refuses connections: the database is down.
    const config = loadAuthServiceConfig(
      testEnv('postgresql://postgres@127.0.0.1:1/postgres', { DATABASE_CONNECT_TIMEOUT_MS: '500' }),
    );
    const app = await buildApp(config);
    try {
      const started = Date.now();
      const response = await app.inject({ method: 'GET', url: '/auth/health' });
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(response.statusCode).toBe(503);
      expect(response.json()).toEqual({ code: 503, status: 'error', message: 'Servicio no disponible' });
      expect(response.headers['retry-after']).toBe('5');
    } finally {
      await app.close();
    }
  });
});
