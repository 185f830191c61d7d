// Helpers of the fault tests (not a test file itself): the shared ones of @mxp/testing/faults, with the proxied app
// bound to this service's app, configuration and test settings, and the check of its OAuth-shaped 503 answers.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProxiedApp as startSharedProxiedApp } from '@mxp/testing/faults';
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadOtherclientConfig } from '../../src/config.js';
import { testEnv } from '../helpers.js';

export {
  ANSWER_WITHIN_MS,
  eventually,
  expectAnswerWithinBound,
  expectEachRecovers,
  expectEnvelope503,
  timed,
  UNLIMITED,
  until,
} from '@mxp/testing/faults';

/** The service on a fresh database reached through a cuttable proxy (see @mxp/testing/faults). */
export function startProxiedApp(env: NodeJS.ProcessEnv = {}) {
  return startSharedProxiedApp({
    buildApp,
    loadConfig: loadOtherclientConfig,
    testEnv,
    dataDir: () => mkdtempSync(join(tmpdir(), 'mxp-otherclient-faults-')),
    env,
  });
}

export type ProxiedApp = Awaited<ReturnType<typeof startProxiedApp>>;

/** 503 in the OAuth error shape (RFC 6749 §5.2 `temporarily_unavailable`), with Retry-After and no-store. */
export function expectOAuth503(response: LightMyRequestResponse, label: string): void {
  expect(response.statusCode, `${label}: ${response.body}`).toBe(503);
  expect(response.json(), label).toEqual({ error: 'temporarily_unavailable', error_description: expect.any(String) });
  expect(response.headers['retry-after'], label).toMatch(/^[1-9]\d*$/);
  expect(response.headers['cache-control'], label).toBe('no-store');
}
