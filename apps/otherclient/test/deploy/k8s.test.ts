// deploy/k8s/otherclient.yaml against the service itself: its environment loads as production configuration, its
// probes and the Ingress's paths reach real routes, its pods are hardened.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKey } from '@mxp/jwt-core';
import { hardeningProblems, metricsExposureProblems, serviceManifest } from '@mxp/testing/k8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOtherclientConfig, OtherclientConfigSchema } from '../../src/config.js';
import { startApp, type TestApp } from '../routes/support.js';

const secrets = mkdtempSync(join(tmpdir(), 'mxp-k8s-secrets-'));
const manifest = serviceManifest('otherclient', (secret, key) => join(secrets, `${secret}-${key}`));
let testApp: TestApp;

beforeAll(async () => {
  writeFileSync(
    join(secrets, 'otherclient-keys-jwks.json'),
    JSON.stringify({ keys: [await generateSigningKey('ES256')] }),
  );
  writeFileSync(join(secrets, 'otherclient-keys-pepper'), 'p'.repeat(43));
  testApp = await startApp();
});
afterAll(async () => {
  await testApp?.close();
});

describe('deploy/k8s/otherclient.yaml', () => {
  it('sets only variables the service reads, and they load as a production configuration', () => {
    const known = new Set(Object.keys(OtherclientConfigSchema.properties));
    for (const name of [...Object.keys(manifest.env), ...manifest.fromSecrets]) {
      expect(known.has(name.replace(/_FILE$/, '')), name).toBe(true);
    }
    const config = loadOtherclientConfig({ ...manifest.env, DATABASE_URL: 'postgresql://u:p@db:5432/mxp' });
    expect(config).toMatchObject({ NODE_ENV: 'production', PORT: manifest.containerPort, TRUST_PROXY: '1' });
    expect(config.CLIENT_SECRET_PEPPER).toHaveLength(43);
    expect(manifest.fromSecrets).toEqual(['DATABASE_URL']);
  });

  it('probes routes that answer: readiness checks the database, liveness and startup only the process', async () => {
    expect(manifest.readinessPath).toBe('/api/auth/health');
    for (const path of [manifest.readinessPath, manifest.livenessPath, manifest.startupPath]) {
      expect((await testApp.app.inject({ url: path })).statusCode, path).toBe(200);
    }
    expect(manifest.livenessPath).not.toBe(manifest.readinessPath);
  });

  it('is reached through the Ingress on every prefix it serves', async () => {
    expect(manifest.ingressPrefixes.sort()).toEqual(['/.well-known', '/api/auth', '/oauth']);
    const routes = testApp.app.printRoutes({ commonPrefix: false });
    for (const prefix of manifest.ingressPrefixes) expect(routes, prefix).toContain(prefix);
  });

  it('exposes metrics on a pod port of their own, which neither the Service nor the Ingress carries', () => {
    expect(metricsExposureProblems(manifest)).toEqual([]);
  });

  it('runs hardened: non-root, read-only root, no capabilities, a memory limit', () => {
    expect(hardeningProblems(manifest)).toEqual([]);
  });
});
