// Helpers of the fault tests (not a test file itself): an app on its own database reached through a TCP proxy
// that the test cuts, an admin connection that bypasses the proxy, timing and retry helpers, and checks of the 503
// answers. Each service passes its own `buildApp`, config loader and test settings.
import { createPrismaClient } from '@mxp/db';
import { createTestDatabase } from '@mxp/db/testing';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { hostAndPort, startDbProxy } from './db-proxy.js';
import { UNLIMITED } from './hostile-requests.js';

/** Limits high enough that no fault test is ever throttled or backed off. */
export { UNLIMITED };

/** `application_name` of the admin connections, which `terminateAppBackends` spares. */
const ADMIN_APPLICATION = 'mxp-faults-admin';

/** Most a request may take to answer while the database is away. */
export const ANSWER_WITHIN_MS = 3_000;

/** What `startProxiedApp` needs of a service: how to configure and build it. */
export interface ProxiedAppOptions<Config, App extends { close(): Promise<unknown> }> {
  buildApp: (config: Config) => Promise<App>;
  loadConfig: (env: NodeJS.ProcessEnv) => Config;
  /** The service's test settings for a database URL, with `env` overriding them. */
  testEnv: (databaseUrl: string, env?: NodeJS.ProcessEnv) => NodeJS.ProcessEnv;
  /** A fresh data directory for the app. */
  dataDir: () => string;
  /** Overrides of the settings. */
  env?: NodeJS.ProcessEnv;
}

/**
 * The app on a fresh database reached through a proxy, with a short connection timeout. `db` is a separate admin
 * client connected directly (not through the proxy), for setting up data and checking it while the proxy is cut.
 */
export async function startProxiedApp<Config, App extends { close(): Promise<unknown> }>({
  buildApp,
  loadConfig,
  testEnv,
  dataDir,
  env = {},
}: ProxiedAppOptions<Config, App>) {
  const database = await createTestDatabase();
  const target = hostAndPort(database.url);
  const proxy = await startDbProxy(target.port, target.host);
  const config = loadConfig(
    testEnv(proxy.urlThrough(database.url), {
      DATA_DIR: dataDir(),
      DATABASE_CONNECT_TIMEOUT_MS: '500',
      DATABASE_QUERY_TIMEOUT_MS: '1500',
      ...UNLIMITED,
      ...env,
    }),
  );
  const app = await buildApp(config);
  const db = createPrismaClient(database.url, { applicationName: ADMIN_APPLICATION, poolMax: 4 });
  return {
    app,
    config,
    db,
    proxy,
    database,
    /** Terminates every backend of the test database but the admin's, as `pg_terminate_backend` by an operator. */
    async terminateAppBackends(): Promise<number> {
      const [row] = await db.$queryRaw<Array<{ n: number }>>`
        SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
        WHERE datname = ${database.name} AND pid <> pg_backend_pid() AND application_name <> ${ADMIN_APPLICATION}`;
      return row?.n ?? 0;
    },
    async close() {
      proxy.restore();
      await app.close();
      await proxy.close();
      await db.$disconnect();
      await database.drop();
    },
  };
}

/** The outcome of `promise` and how long it took, or `timedOut` when it took more than `ms`. */
export async function timed<T>(
  promise: Promise<T>,
  ms = ANSWER_WITHIN_MS,
): Promise<{ value: T; millis: number; timedOut: false } | { value: undefined; millis: number; timedOut: true }> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    const winner = await Promise.race([promise, timeout]);
    const millis = Date.now() - started;
    return winner === 'timeout'
      ? { value: undefined, millis, timedOut: true }
      : { value: winner as T, millis, timedOut: false };
  } finally {
    clearTimeout(timer);
  }
}

/** Calls `attempt` until it returns true, at most `ms` (then fails with the last description). */
export async function eventually(
  attempt: () => Promise<{ ok: boolean; description: string }>,
  ms = 5_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  let last = 'never tried';
  while (Date.now() < deadline) {
    const outcome = await attempt();
    if (outcome.ok) return;
    last = outcome.description;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect.fail(`still failing after ${ms} ms: ${last}`);
}

/** Waits (up to `ms`) until `condition` holds. */
export async function until(condition: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) expect.fail(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** 503 in the API envelope, exactly, with Retry-After. */
export function expectEnvelope503(response: LightMyRequestResponse, label: string): void {
  expect(response.statusCode, `${label}: ${response.body}`).toBe(503);
  expect(response.json(), label).toEqual({ code: 503, status: 'error', message: 'Servicio no disponible' });
  expect(response.headers['retry-after'], label).toMatch(/^[1-9]\d*$/);
}

/** An endpoint of a fault test: its name (for messages) and a request that succeeds while the database is up. */
export interface FaultEndpoint {
  name: string;
  request: InjectOptions;
}

/** The answer to a request, which must come within `ANSWER_WITHIN_MS`. */
export async function expectAnswerWithinBound(
  answer: Promise<LightMyRequestResponse>,
  label: string,
): Promise<LightMyRequestResponse> {
  const outcome = await timed(answer);
  expect(outcome.timedOut, `${label} did not answer within ${ANSWER_WITHIN_MS} ms`).toBe(false);
  expect(outcome.millis, label).toBeLessThan(ANSWER_WITHIN_MS);
  return outcome.value as LightMyRequestResponse;
}

/** Each endpoint succeeds again (answers `okStatus`) within ~5 s, with the same app (no restart). */
export async function expectEachRecovers<E extends FaultEndpoint>(
  inject: (request: InjectOptions) => Promise<LightMyRequestResponse>,
  list: E[],
  okStatus: (endpoint: E) => number,
): Promise<void> {
  for (const endpoint of list) {
    await eventually(async () => {
      const response = await inject(endpoint.request);
      return {
        ok: response.statusCode === okStatus(endpoint),
        description: `${endpoint.name}: ${response.statusCode} ${response.body}`,
      };
    });
  }
}
