import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type OtherclientApp } from '../../src/app.js';
import { loadOtherclientConfig } from '../../src/config.js';
import { testEnv } from '../helpers.js';
import { b64json, basicAuth, FORM, form } from './support.js';

// Nothing listens on port 1: every database call fails to connect, as when PostgreSQL is down.
let app: OtherclientApp;

beforeAll(async () => {
  const config = loadOtherclientConfig(
    testEnv('postgresql://postgres@127.0.0.1:1/unreachable', {
      DATA_DIR: mkdtempSync(join(tmpdir(), 'mxp-otherclient-test-')),
      DATABASE_CONNECT_TIMEOUT_MS: '500',
    }),
  );
  app = await buildApp(config);
});
afterAll(async () => {
  await app?.close();
});

describe('with the database down', () => {
  it('answers POST /api/auth/token with 503 in the envelope and Retry-After, never 500', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/auth/token',
      payload: { clientId: 'some-client', clientSecret: 'some-secret' },
    });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ code: 503, status: 'error', message: 'Servicio no disponible' });
    expect(response.headers['retry-after']).toBe('5');
  });

  it('still answers a malformed request with 400 (validation needs no database)', async () => {
    const response = await app.inject({ method: 'POST', url: '/api/auth/token', payload: {} });
    expect(response.statusCode).toBe(400);
  });

  it('answers GET /api/auth/token/info with 503 in the envelope', async () => {
    const token = `${b64json({ alg: 'ES256', kid: 'k', typ: 'at+jwt' })}.${b64json({ client_id: 'c' })}.c2ln`;
    const response = await app.inject({
      method: 'GET',
      url: '/api/auth/token/info',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ code: 503, status: 'error' });
  });

  it('answers POST /oauth/token with 503 temporarily_unavailable and Retry-After', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { ...FORM, authorization: basicAuth('some-client', 'some-secret') },
      payload: form({ grant_type: 'client_credentials' }),
    });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ error: 'temporarily_unavailable', error_description: expect.any(String) });
    expect(response.headers['retry-after']).toBe('5');
    expect(response.headers['cache-control']).toBe('no-store');
  });
});
