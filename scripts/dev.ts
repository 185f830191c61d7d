// `pnpm dev`: both services in watch mode on one database, with demo data to try them at once.
// Without DATABASE_URL the database is an embedded PostgreSQL (PGlite) kept in .data/pglite, so a machine with
// Node and nothing else can run the product; with DATABASE_URL that database is migrated and used instead.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createPrismaClient } from '@mxp/db';
import { startEmbeddedPostgres } from '@mxp/db/embedded';
import { migrateDatabase } from '@mxp/db/migrate';
import { loadOrCreateDevSecret } from '@mxp/service-kit';
import { loadAuthServiceConfig, passwordHashParams } from '../apps/auth-service/src/config.js';
import { type DemoAccount, ensureDemoAccount } from '../apps/auth-service/src/dev/seed-demo.js';
import { type DemoClientCredentials, ensureDemoClient } from '../apps/otherclient/src/dev/seed-demo.js';

const root = resolve(import.meta.dirname, '..');
const dataDir = resolve(process.env.DATA_DIR ?? join(root, '.data'));
const demoFile = join(dataDir, 'demo-credentials.json');
// The services' default ports; PORT and HOST are removed from their environment so the two cannot collide.
const otherclientPort = 3001;
const authServicePort = 3002;

type DemoCredentials = DemoClientCredentials & DemoAccount;

function readDemoCredentials(): DemoCredentials | undefined {
  try {
    return JSON.parse(readFileSync(demoFile, 'utf8')) as DemoCredentials;
  } catch {
    return undefined;
  }
}

async function prepareDatabase(): Promise<{ databaseUrl: string; embedded: boolean; stop: () => Promise<void> }> {
  if (process.env.DATABASE_URL) return { databaseUrl: process.env.DATABASE_URL, embedded: false, stop: async () => {} };
  const port = Number(process.env.EMBEDDED_DB_PORT ?? 54_329);
  const embedded = await startEmbeddedPostgres({ dataDir: join(dataDir, 'pglite'), port });
  console.log(`[dev] embedded PostgreSQL (PGlite) on ${embedded.url}, data in ${join(dataDir, 'pglite')}`);
  return { databaseUrl: embedded.url, embedded: true, stop: embedded.stop };
}

async function seedDemo(databaseUrl: string): Promise<DemoCredentials> {
  const known = readDemoCredentials();
  const db = createPrismaClient(databaseUrl, { poolMax: 2 });
  try {
    const pepper = loadOrCreateDevSecret(dataDir, 'otherclient-secret-pepper');
    const client = await ensureDemoClient(db, pepper, known);
    const hashParams = passwordHashParams(loadAuthServiceConfig({ ...process.env, DATABASE_URL: databaseUrl }));
    const account = await ensureDemoAccount(db, hashParams, known);
    const demo = { ...client, ...account };
    writeFileSync(demoFile, `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });
    return demo;
  } finally {
    await db.$disconnect();
  }
}

function withoutListenVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { PORT: _port, HOST: _host, ...rest } = env;
  return rest;
}

async function waitForHealth(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      if (response.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((done) => setTimeout(done, 250));
  }
  return false;
}

function banner(demo: DemoCredentials): string {
  const oc = `http://127.0.0.1:${otherclientPort}`;
  const as = `http://127.0.0.1:${authServicePort}`;
  return [
    '',
    '──────────────── mxp-auth is running (development) ────────────────',
    `otherclient   ${oc}/api/auth/health`,
    `auth-service  ${as}/auth/health`,
    '',
    'Demo API client (otherclient)',
    `  clientId      ${demo.clientId}`,
    `  clientSecret  ${demo.clientSecret}`,
    'Demo application and user (auth-service)',
    `  application_id  ${demo.applicationId}`,
    `  username        ${demo.username}`,
    `  password        ${demo.password}`,
    '',
    'Try:',
    `  curl -s ${oc}/api/auth/health`,
    `  curl -s -X POST ${oc}/api/auth/token -H 'Content-Type: application/json' -d '${JSON.stringify({ clientId: demo.clientId, clientSecret: demo.clientSecret })}'`,
    `  curl -s -u '${demo.clientId}:${demo.clientSecret}' -d grant_type=client_credentials ${oc}/oauth/token`,
    `  curl -s ${as}/auth/health`,
    `  curl -s -X POST ${as}/auth/login -H 'Content-Type: application/json' -d '${JSON.stringify({ username: demo.username, password: demo.password, application_id: demo.applicationId })}'`,
    '',
    `(credentials kept in ${demoFile}; delete ${dataDir} to start from scratch)`,
    '────────────────────────────────────────────────────────────────────',
    '',
  ].join('\n');
}

const database = await prepareDatabase();
const { applied } = await migrateDatabase({ databaseUrl: database.databaseUrl });
console.log(applied.length ? `[dev] applied migrations: ${applied.join(', ')}` : '[dev] database is up to date');
const demo = await seedDemo(database.databaseUrl);

// `turbo` is on PATH: package scripts run with node_modules/.bin first.
const services = spawn(
  'turbo',
  ['run', 'dev', '--env-mode=loose', '--filter=@mxp/otherclient', '--filter=@mxp/auth-service'],
  {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...withoutListenVariables(process.env),
      NODE_ENV: 'development',
      DATABASE_URL: database.databaseUrl,
      // PGlite's socket server delivers no notification from one connection to another (only a connection's own), so
      // the caches kept exact by notifications would miss what other processes (the admin CLIs) change: off.
      ...(database.embedded ? { SESSION_CACHE_MAX_ENTRIES: '0', CLIENT_CACHE_MAX_ENTRIES: '0' } : {}),
      DATA_DIR: dataDir,
      TURBO_TELEMETRY_DISABLED: '1',
      TURBO_NO_UPDATE_NOTIFIER: '1',
    },
  },
);

let stopping = false;
async function stop(code: number) {
  if (stopping) return;
  stopping = true;
  services.kill('SIGTERM');
  await database.stop();
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
services.on('exit', (code) => void stop(code ?? 0));

const healthy = await Promise.all([
  waitForHealth(`http://127.0.0.1:${otherclientPort}/api/auth/health`, 90_000),
  waitForHealth(`http://127.0.0.1:${authServicePort}/auth/health`, 90_000),
]);
if (healthy.every(Boolean)) console.log(banner(demo));
else console.error('[dev] a service did not become healthy within 90 s; see its log above');
