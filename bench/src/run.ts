// `pnpm bench` (after `pnpm build`): prepares a fresh database, runs every scenario (or those named in BENCH_ONLY)
// against production builds of the services started as plain `node` processes, and writes bench/results/latest.json
// and latest.md. See bench/README.md.
import { rmSync } from 'node:fs';
import { prepareFixtures } from './fixtures.js';
import { gitState, machineInfo } from './machine.js';
import { paths, readOptions } from './options.js';
import { killChildrenOnExit } from './processes.js';
import { buildReport, DISTURBED_PERCENT, markdownTables, writeReport } from './report.js';
import type { Measurements } from './results.js';
import { authScenarios } from './scenarios/auth-service.js';
import {
  type Context,
  FAST_CONNECTIONS,
  INTROSPECTED_TOKENS,
  LOGIN_CONNECTIONS,
  SATURATING_LOGIN_CONNECTIONS,
  VALIDATE_RATE,
} from './scenarios/common.js';
import { otherclientScenarios } from './scenarios/otherclient.js';
import { readinessScenario } from './scenarios/readiness.js';
import { argon2Scenario, floorScenarios, floorSigningScenario, peerScenarios } from './scenarios/references.js';

const NOTES = [
  'req/s counts 2xx answers per second of the measured window; errors are socket errors, timeouts and non-2xx ' +
    "answers. Latencies are autocannon's (whole milliseconds, <1 meaning under one) except validate-under-login (see below).",
  '× floor: each fast scenario (floor-signing, peer, token, introspection, validate, refresh) is compared with the floor measured ' +
    'again just before it, with the same warm-up and window (its server left running for that): on a shared host the ' +
    'machine gives more or less CPU from one minute to the next, and floors measured minutes apart differed by a ' +
    "third. The floor row is the first measurement; latest.json keeps each scenario's `floorBeside`.",
  'floor: Fastify with `logger: { level: "info" }` writing its two JSON request lines per request to stdout (sent to ' +
    'a file, like the services), one route `POST /floor` whose body (the same ~90-byte JSON as `POST /api/auth/token`) ' +
    'goes through Fastify\'s default JSON parser, no schema, no plugin, no database, answering `{"status":"success"}`. ' +
    "Fastify's default request logging writes two lines per request; the services (service-kit) write one.",
  'floor-signing: the floor plus one ES256 access token signed per request (@mxp/jwt-core signJwt, as otherclient ' +
    'signs, with one libuv thread as otherclient runs; otherwise the floor: its logger, two lines per request where ' +
    "otherclient writes one, and plain node without the services' flags), answering the token: about the most an " +
    'endpoint that signs each token this way can do here, whatever else it does. Its × floor and × peer are about ' +
    "the most the issuance scenarios' can be.",
  'peer: oidc-provider 8.8.1 (the last line that supports Node 20; 9.x wants Node 22), NODE_ENV=production, one ' +
    'client_secret_basic client with one scope, client_credentials, RFC 9068 JWT access tokens signed ES256 through a ' +
    'resource indicator (default resource), introspection on. Its default in-memory adapter stores everything in the ' +
    'process and writes nothing anywhere, and it logs no requests, whereas otherclient authenticates against ' +
    'PostgreSQL, audits every token request there and logs each request: this flatters the peer. oidc-provider ' +
    'cannot introspect JWT access tokens (it keeps only opaque ones), so peer-introspect introspects an opaque token ' +
    'of the same client and scope.',
  'Services: `node apps/<service>/dist/server.bundle.js` from `pnpm build` (the service bundled into one file, as ' +
    'its image runs it), NODE_ENV=production, LOG_LEVEL=info (stdout to bench/results/logs/), JWT_PRIVATE_JWKS (ES256) generated per run with @mxp/jwt-core, JWT_ISSUER set, a random ' +
    'CLIENT_SECRET_PEPPER; only RATE_LIMIT_GLOBAL_PER_MINUTE, RATE_LIMIT_CREDENTIALS_PER_MINUTE and ' +
    'RATE_LIMIT_VALIDATE_PER_TOKEN_PER_MINUTE raised (one load-generating address); no REDIS_URL, so rate-limit ' +
    "counters are in each process's memory. Clients and applications come from the admin CLIs.",
  `Loads: autocannon as a library in the harness process (which shares the 2 CPUs with the server under test), ` +
    `${FAST_CONNECTIONS} connections for every fast scenario, ${LOGIN_CONNECTIONS} for login.`,
  'validate rotates over 10,000 live sessions seeded with SQL, their access tokens signed by the harness with the ' +
    "service's key exactly as the service signs them; refresh spends each seeded refresh token once (5,000 per second of load: 60,000 by default).",
  `oauth-introspect rotates over ${INTROSPECTED_TOKENS.toLocaleString('en-US')} tokens the client got from POST ` +
    '/oauth/token, each introspected once before measuring (a resource server sees the same live tokens again and ' +
    'again; otherclient remembers verified signatures until exp, and whether each token was revoked, kept exact by ' +
    'PostgreSQL notifications); ' +
    'peer-introspect repeats one opaque token (an in-memory lookup either way).',
  `validate-under-login: login at ${SATURATING_LOGIN_CONNECTIONS} connections (autocannon) beside validate at a ` +
    `steady ${VALIDATE_RATE}/s, evenly spaced and open loop (not autocannon's overallRate, which sends each ` +
    "second's quota in one burst), latency from when each request was due; the harness runs at nice -10 meanwhile " +
    'so that its own timers are not what is measured (latest.json: sendLagMs); the row shows the validate calls.',
  'login vs argon2-raw: argon2-raw verifies one hash at the same cost (m=19456, t=2, p=1) in its own process, ' +
    'nothing else, with the library and threads the service hashes with (@node-rs/argon2, verifySync in worker ' +
    'threads), once with as many threads as cores and once with 4, each for the same time, and keeps the better rate ' +
    '(its "connections" column says which); the service runs one hash per core at a time, on threads at nice +10.',
  'CPU shares: from /proc/stat and /proc/<pid>/stat over the measured window; "postgres" is the backends of the ' +
    'bench database, "other processes" everything else in user or system time (other work on the machine, ' +
    'PostgreSQL\'s shared background processes). "Answers per server CPU-second" is req/s divided by the CPU the ' +
    'server used: steadier than req/s when the machine is shared.',
  'Peak RSS: VmHWM of the server process (reset at the start of each measured window through /proc/<pid>/clear_refs) ' +
    'and VmRSS sampled every 100 ms.',
];

function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const clock = performance.now();
  const options = readOptions();
  killChildrenOnExit();
  // Logs and profiles are of this run only.
  for (const folder of [paths.logs, paths.profiles]) rmSync(folder, { recursive: true, force: true });
  const machine = machineInfo();
  if (machine.loadAverageAtStart > 0.5) {
    log(`load average ${machine.loadAverageAtStart} at start: something else is using the CPU, numbers will be low`);
  }
  log(`steps: ${[...options.only].join(', ')}; ${options.warmupSeconds} s warm-up + ${options.durationSeconds} s each`);

  const fixtures = await prepareFixtures(options, log);
  machine.postgres = fixtures.postgresVersion;
  const measurements: Measurements = { scenarios: [], readyMs: {} };
  const ctx: Context = { options, fixtures, measurements, log };
  try {
    await floorScenarios(ctx);
    await floorSigningScenario(ctx);
    await peerScenarios(ctx);
    await otherclientScenarios(ctx);
    await authScenarios(ctx);
  } finally {
    await ctx.floor?.stop();
  }
  await argon2Scenario(ctx);
  await readinessScenario(ctx);

  const notes = [...NOTES];
  if (options.profile) notes.unshift('BENCH_PROFILE=1: the services ran under --cpu-prof, so they are slower here.');
  if (machine.loadAverageAtStart > 0.5) {
    notes.unshift(`The load average was ${machine.loadAverageAtStart} at start: other work shared the CPUs.`);
  }
  const disturbed = measurements.scenarios.filter((result) => result.cpu.otherPercent > DISTURBED_PERCENT);
  if (disturbed.length > 0) {
    notes.unshift(
      `Other processes used more than ${DISTURBED_PERCENT}% of the machine during ` +
        `${disturbed.map((result) => `${result.name} (${result.cpu.otherPercent}%)`).join(', ')}: ` +
        'those numbers are lower than this machine gives when it is quiet; run again then.',
    );
  }
  const underLogin = measurements.scenarios.find((result) => result.name === 'validate-under-login')?.detail;
  if (underLogin) {
    notes.push(
      `During validate-under-login, logins ran at ${Number(underLogin.loginsPerSecond).toFixed(1)}/s ` +
        `(p99 ${String(underLogin.loginP99Ms)} ms, ${String(underLogin.loginErrors)} errors).`,
    );
  }
  const report = buildReport({
    measurements,
    machine,
    git: gitState(),
    options,
    settings: {
      durationSeconds: options.durationSeconds,
      warmupSeconds: options.warmupSeconds,
      database: options.databaseName,
      profile: options.profile,
      steps: [...options.only],
    },
    notes,
    startedAt,
    totalSeconds: (performance.now() - clock) / 1000,
  });
  const written = writeReport(report);
  process.stdout.write(`\n${markdownTables(report)}\n\nAll targets met: ${report.allTargetsMet ? 'yes' : 'no'}\n`);
  log(`wrote ${written.json} and ${written.markdown} (${report.totalSeconds.toFixed(0)} s)`);
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
