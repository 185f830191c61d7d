import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signJwt } from '@mxp/jwt-core';
import { ConfigError } from '@mxp/service-kit';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadAuthServiceConfig } from '../../src/config.js';
import { startTestApp, testEnv } from '../helpers.js';

describe('JWKS', () => {
  let testApp: Awaited<ReturnType<typeof startTestApp>>;
  beforeAll(async () => {
    testApp = await startTestApp({ DATA_DIR: mkdtempSync(join(tmpdir(), 'mxp-keys-')) });
  });
  afterAll(async () => {
    await testApp.close();
  });

  it.each(['/auth/.well-known/jwks.json'])(
    '%s publishes public keys only, which verify the service’s tokens',
    async (path) => {
      const response = await testApp.app.inject({ method: 'GET', url: path });
      expect(response.statusCode).toBe(200);
      expect(response.headers['cache-control']).toBe('public, max-age=300');
      const jwks = response.json();
      expect(jwks.keys).toHaveLength(1);
      expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(jwks.keys[0]).not.toHaveProperty('d');

      const { token } = await signJwt(
        testApp.app.signingKeys,
        { scope: 'x' },
        {
          typ: 'at+jwt',
          issuer: 'https://issuer.test',
          audience: 'api',
          subject: 'someone',
          expiresInSeconds: 60,
        },
      );
      const verified = await jwtVerify(token, createLocalJWKSet(jwks), {
        algorithms: ['ES256'],
        issuer: 'https://issuer.test',
        audience: 'api',
        typ: 'at+jwt',
      });
      expect(verified.payload.sub).toBe('someone');
      expect(verified.protectedHeader.kid).toBe(jwks.keys[0].kid);
    },
  );
});

describe('signing keys configuration', () => {
  it('refuses to start in production without keys, naming the variable', async () => {
    const config = loadAuthServiceConfig(
      testEnv('postgresql://postgres@127.0.0.1:5432/postgres', {
        NODE_ENV: 'production',
        CLIENT_SECRET_PEPPER: 'p'.repeat(32),
      }),
    );
    await expect(buildApp(config)).rejects.toThrow(ConfigError);
    await expect(buildApp(config)).rejects.toThrow(/JWT_PRIVATE_JWKS .* is required in production/);
  });

  it('refuses an HS256 secret shorter than 32 characters', () => {
    expect(() =>
      loadAuthServiceConfig(testEnv('postgresql://postgres@127.0.0.1:5432/postgres', { JWT_HS256_SECRET: 'short' })),
    ).toThrow(/JWT_HS256_SECRET must NOT have fewer than 32 characters/);
  });
});
