// What every scenario group shares: the load settings, starting and stopping a server around a group of steps,
// measuring one load and recording the result.
import { join } from 'node:path';
import { startCommand } from '@mxp/service-kit/bundle';
import { type Fixtures, SCOPE } from '../fixtures.js';
import { form, jwtHeader } from '../http.js';
import { type LoadSpec, measure } from '../load.js';
import { type BenchOptions, FAST_SCENARIOS, paths, type StepName } from '../options.js';
import { type ServerProcess, type ServerSpec, startServer, waitForIdle } from '../processes.js';
import type { Measurements, ScenarioResult } from '../results.js';

/**
 * Connections of every as-fast-as-possible scenario but login. Tried 8-128 against the floor on this 2-core machine
 * (the harness shares the CPU with the server): throughput is flat from 16 to 64 within the noise and falls at 128,
 * while p99 grows with every step; 32 is the middle of the flat part.
 */
export const FAST_CONNECTIONS = 32;
/** Login: the service's argon2 threads (one per core) are kept busy with a queue; more only lengthens the queue. */
export const LOGIN_CONNECTIONS = 16;
/** Login load that saturates the CPU while validate runs beside it. */
export const SATURATING_LOGIN_CONNECTIONS = 64;
/** Validate calls per second, evenly spaced, during login saturation (a gateway's steady traffic). */
export const VALIDATE_RATE = 500;
/** Distinct access tokens the oauth-introspect load rotates over. */
export const INTROSPECTED_TOKENS = 1_000;

export interface Context {
  options: BenchOptions;
  fixtures: Fixtures;
  measurements: Measurements;
  log: (line: string) => void;
  /** The floor server, kept running after the floor step so that each fast scenario is compared with a floor of its time. */
  floor?: FloorReference;
}

/** The running floor: measures it again (the scenarios' warm-up and window) and answers its req/s. */
export interface FloorReference {
  measure: () => Promise<number>;
  stop: () => Promise<void>;
}

export const has = (ctx: Context, ...steps: StepName[]) => steps.some((step) => ctx.options.only.has(step));

/** Starts a server as the run's settings say (profiled, extra flags and environment) and records its readiness. */
export async function start(ctx: Context, spec: ServerSpec, isService: boolean): Promise<ServerProcess> {
  const profiled = isService && ctx.options.profile;
  // BENCH_NODE_FLAGS: extra node flags for the services (e.g. to try heap settings), space-separated.
  const extraFlags = isService ? (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean) : [];
  // BENCH_SERVICE_ENV: extra environment for the services (e.g. to try allocator settings), "A=1 B=2".
  const extraEnv = isService
    ? Object.fromEntries(
        (process.env.BENCH_SERVICE_ENV ?? '')
          .split(' ')
          .filter((word) => word.includes('='))
          .map((word) => [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)]),
      )
    : {};
  const server = await startServer({
    ...spec,
    env: { ...spec.env, ...extraEnv },
    nodeFlags: [
      ...(spec.nodeFlags ?? []),
      ...(profiled ? ['--cpu-prof', '--cpu-prof-dir', paths.profiles] : []),
      ...extraFlags,
    ],
  });
  ctx.measurements.readyMs[spec.name] = server.readyMs;
  ctx.log(`${spec.name} ready in ${server.readyMs.toFixed(0)} ms (pid ${server.pid})`);
  return server;
}

export async function withServer(
  ctx: Context,
  spec: ServerSpec,
  isService: boolean,
  body: (server: ServerProcess) => Promise<void>,
) {
  const server = await start(ctx, spec, isService);
  try {
    await body(server);
  } finally {
    await server.stop();
  }
}

export function observe(ctx: Context, pid: number) {
  return { pid, databaseName: ctx.options.databaseName };
}

export function record(ctx: Context, result: ScenarioResult): void {
  ctx.measurements.scenarios.push(result);
  const latency =
    result.p50Ms === null || result.p99Ms === null
      ? ''
      : `, p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms`;
  const { cpu } = result;
  ctx.log(
    `${result.name}: ${result.requestsPerSecond.toFixed(0)}/s${latency}, ${result.errors} errors, ` +
      `peak RSS ${result.peakRssMb.toFixed(0)} MB; CPU: server ${cpu.serverPercent}%, harness ` +
      `${cpu.harnessPercent}%, postgres ${cpu.postgresPercent}%, other ${cpu.otherPercent}%`,
  );
}

/** Warm-up, measured window, record; then waits for the server to finish what the load left queued. */
export async function measureOne(
  ctx: Context,
  name: StepName,
  server: ServerProcess,
  spec: LoadSpec,
  detail?: () => Record<string, unknown>,
) {
  const floorBeside = ctx.floor && FAST_SCENARIOS.has(name) ? await ctx.floor.measure() : undefined;
  const timing = { warmupSeconds: ctx.options.warmupSeconds, durationSeconds: ctx.options.durationSeconds };
  const { results, peakRssMb, cpu } = await measure([spec], timing, observe(ctx, server.pid));
  const [result] = results;
  if (!result) throw new Error(`${name}: no result`);
  record(ctx, {
    name,
    server: server.name,
    ...result,
    peakRssMb,
    cpu,
    ...(floorBeside === undefined ? {} : { floorBeside }),
    ...(detail ? { detail: detail() } : {}),
  });
  await waitForIdle(server.pid);
}

/** The same body as `POST /api/auth/token` (two UUIDs), so the floor parses as much JSON as the token route. */
export function tokenRequestBody(clientId: string, clientSecret: string): string {
  return JSON.stringify({ clientId, clientSecret });
}

/** `grant_type=client_credentials&scope=...`, identical for otherclient's `/oauth/token` and the peer's. */
export const CLIENT_CREDENTIALS_BODY = form({ grant_type: 'client_credentials', scope: SCOPE });

/** Round-robin over values: each call returns the next one. */
export function rotation<T>(values: readonly T[]): () => T {
  if (values.length === 0) throw new Error('nothing to rotate over');
  let index = 0;
  return () => values[index++ % values.length] as T;
}

export const isEs256AccessToken = (token: unknown) => {
  const header = jwtHeader(token);
  return header.alg === 'ES256' && header.typ === 'at+jwt';
};

export function loginBody(user: { username: string; password: string }, applicationId: string): string {
  return JSON.stringify({
    username: user.username,
    password: user.password,
    application_id: applicationId,
    device_info: { platform: 'bench', app_version: '1.0.0' },
  });
}

/**
 * How a service runs in production, from its package's `start` script (`[VAR=value ...] node <flags>
 * dist/server.bundle.js`, the same command and environment as its Dockerfile): the heap limits and the allocator
 * settings are part of its production configuration. `env` is the bench's environment for the service plus the
 * script's assignments.
 */
export function productionCommand(
  app: 'otherclient' | 'auth-service',
  env: Record<string, string>,
): { script: string; nodeFlags: string[]; env: Record<string, string> } {
  const start = startCommand(join(paths.repo, 'apps', app));
  return { script: start.script, nodeFlags: start.nodeFlags, env: { ...env, ...start.env } };
}
