import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { loadOtherclientConfig } from '../src/config.js';
import { startTestApp, testEnv } from './helpers.js';

// The routes themselves are tested in @mxp/service-kit; this checks the otherclient serves them at its contract paths.
describe('otherclient routes', () => {
  let testApp: Awaited<ReturnType<typeof startTestApp>>;
  beforeAll(async () => {
    testApp = await startTestApp({ DATA_DIR: mkdtempSync(join(tmpdir(), 'mxp-otherclient-')) });
  });
  afterAll(async () => {
    await testApp.close();
  });

  it('GET /api/auth/health answers {"status":"ok"}', async () => {
    const response = await testApp.app.inject({ method: 'GET', url: '/api/auth/health' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok' });
  });

  it.each(['/.well-known/jwks.json', '/api/auth/.well-known/jwks.json'])(
    'GET %s publishes the signing key',
    async (url) => {
      const response = await testApp.app.inject({ method: 'GET', url });
      expect(response.statusCode).toBe(200);
      expect(response.json().keys.map((key: { kid: string }) => key.kid)).toEqual([
        testApp.app.signingKeys.signingKey.kid,
      ]);
    },
  );

  it('answers an unknown route with 404 in the envelope', async () => {
    const response = await testApp.app.inject({ method: 'GET', url: '/api/auth/nope' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ code: 404, status: 'error', message: 'Recurso no encontrado' });
  });

  it('refuses to build in production without signing keys', async () => {
    const config = loadOtherclientConfig(
      testEnv('postgresql://postgres@127.0.0.1:5432/postgres', {
        NODE_ENV: 'production',
        CLIENT_SECRET_PEPPER: 'p'.repeat(32),
      }),
    );
    await expect(buildApp(config)).rejects.toThrow(/JWT_PRIVATE_JWKS .* is required in production/);
  });
});
