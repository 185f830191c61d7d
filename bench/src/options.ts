import { fileURLToPath } from 'node:url';

/** Every scenario and check, in the order they run; `BENCH_ONLY` picks among these names. */
export const STEP_NAMES = [
  'floor',
  'floor-signing',
  'peer-token',
  'peer-introspect',
  'api-token',
  'oauth-token',
  'oauth-introspect',
  'validate',
  'refresh',
  'argon2-raw',
  'login',
  'validate-under-login',
  'revocation',
  'readiness',
] as const;
export type StepName = (typeof STEP_NAMES)[number];

/** Scenarios as fast as the server answers: the ones a fraction of the floor means something for. */
export const FAST_SCENARIOS: ReadonlySet<StepName> = new Set<StepName>([
  'floor-signing',
  'peer-token',
  'peer-introspect',
  'api-token',
  'oauth-token',
  'oauth-introspect',
  'validate',
  'refresh',
]);

export interface BenchOptions {
  /** Measured seconds of each scenario (`BENCH_DURATION`, default 10). */
  durationSeconds: number;
  /** Unmeasured seconds before each (`BENCH_WARMUP`, default 2). */
  warmupSeconds: number;
  /** The server PostgreSQL runs on; the bench database is created (dropped first) next to the database named here. */
  databaseUrl: string;
  databaseName: string;
  /** `BENCH_PROFILE=1`: services run with `--cpu-prof` (their numbers are then slower; the report says so). */
  profile: boolean;
  /** `BENCH_ONLY=a,b`: the steps to run (all by default). */
  only: ReadonlySet<StepName>;
}

/** Paths of the repository and of the harness's output (results and logs are git-ignored but latest.*). */
export const paths = {
  repo: fileURLToPath(new URL('../../', import.meta.url)),
  servers: fileURLToPath(new URL('./servers/', import.meta.url)),
  results: fileURLToPath(new URL('../results/', import.meta.url)),
  logs: fileURLToPath(new URL('../results/logs/', import.meta.url)),
  profiles: fileURLToPath(new URL('../results/profiles/', import.meta.url)),
};

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number of seconds, got "${raw}"`);
  return value;
}

export function readOptions(env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const only = (env.BENCH_ONLY ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const unknown = only.filter((name) => !(STEP_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new Error(`BENCH_ONLY: unknown ${unknown.join(', ')} (known: ${STEP_NAMES.join(', ')})`);
  }
  const durationSeconds = positiveNumber('BENCH_DURATION', 10);
  if (durationSeconds < 1) throw new Error('BENCH_DURATION must be at least 1 second');
  return {
    durationSeconds,
    warmupSeconds: positiveNumber('BENCH_WARMUP', 2),
    databaseUrl: env.DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres',
    databaseName: env.BENCH_DATABASE || 'mxp_bench',
    profile: env.BENCH_PROFILE === '1',
    only: new Set((only.length > 0 ? only : STEP_NAMES) as StepName[]),
  };
}
