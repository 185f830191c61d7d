import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase } from '@mxp/db/testing';
import { type KeySet, signJwt } from '@mxp/jwt-core';
import Fastify from 'fastify';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  baseFastifyOptions,
  dbPlugin,
  errorHandler,
  healthRoutes,
  jwksRoutes,
  loadSigningKeys,
  requestLogging,
  signingKeysPlugin,
} from '../src/index.js';

const quiet = { LOG_LEVEL: 'silent', NODE_ENV: 'test', TRUST_PROXY: 'false', BODY_LIMIT_BYTES: 65_536 };

/** A service assembled from the kit the way both apps do it, under the prefix `/svc`. */
async function buildService(databaseUrl: string, keySet: KeySet, connectTimeoutMs = 2_000) {
  const app = Fastify(baseFastifyOptions(quiet, 'test'));
  await app.register(requestLogging);
  await app.register(errorHandler);
  await app.register(dbPlugin, { databaseUrl, poolMax: 2, connectTimeoutMs, queryTimeoutMs: 5_000 });
  await app.register(signingKeysPlugin, { keySet });
  await app.register(healthRoutes, { prefix: '/svc' });
  await app.register(jwksRoutes, { prefix: '/svc' });
  return app;
}

function devKeys(): Promise<KeySet> {
  return loadSigningKeys(
    { NODE_ENV: 'test', DATA_DIR: mkdtempSync(join(tmpdir(), 'mxp-kit-')), JWT_ALGORITHM: 'ES256' },
    'test',
  );
}

describe('health and JWKS routes on a live database', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let app: Awaited<ReturnType<typeof buildService>>;
  beforeAll(async () => {
    database = await createTestDatabase();
    app = await buildService(database.url, await devKeys());
  });
  afterAll(async () => {
    await app.close();
    await database.drop();
  });

  it('GET /health answers {"status":"ok"} with a request id', async () => {
    const response = await app.inject({ method: 'GET', url: '/svc/health' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok' });
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('keeps a well-formed X-Request-Id from the ingress and replaces a malformed one', async () => {
    const kept = await app.inject({ url: '/svc/health', headers: { 'x-request-id': 'ingress-42' } });
    expect(kept.headers['x-request-id']).toBe('ingress-42');
    const replaced = await app.inject({ url: '/svc/health', headers: { 'x-request-id': 'bad id\u0007' } });
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('GET /.well-known/jwks.json publishes public keys only, which verify the service’s tokens', async () => {
    const response = await app.inject({ method: 'GET', url: '/svc/.well-known/jwks.json' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('public, max-age=300');
    const jwks = response.json();
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d');

    const { token } = await signJwt(
      app.signingKeys,
      { scope: 'x' },
      { typ: 'at+jwt', issuer: 'https://issuer.test', audience: 'api', subject: 'someone', expiresInSeconds: 60 },
    );
    // An independent verifier: plain jose against the published document.
    const verified = await jwtVerify(token, createLocalJWKSet(jwks), {
      algorithms: ['ES256'],
      issuer: 'https://issuer.test',
      audience: 'api',
      typ: 'at+jwt',
    });
    expect(verified.payload.sub).toBe('someone');
    expect(verified.protectedHeader.kid).toBe(jwks.keys[0].kid);
  });
});

describe('health without a database', () => {
  it('answers 503 in the envelope within a bounded time', async () => {
    // Port 1 on loopback refuses connections: the database is down.
    const app = await buildService('postgresql://postgres@127.0.0.1:1/postgres', await devKeys(), 500);
    try {
      const started = Date.now();
      const response = await app.inject({ method: 'GET', url: '/svc/health' });
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(response.statusCode).toBe(503);
      expect(response.json()).toEqual({ code: 503, status: 'error', message: 'Servicio no disponible' });
      expect(response.headers['retry-after']).toBe('5');
    } finally {
      await app.close();
    }
  });
});
