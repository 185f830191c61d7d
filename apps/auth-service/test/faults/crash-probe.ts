// Run in a child process by database-down.test.ts (not a test file itself): does the service process survive
// PostgreSQL terminating a connection (`pg_terminate_backend`, or a fast shutdown) at the moment the pool hands that
// connection to a transaction that was waiting for it? The last reply and the server's FATAL message arrive in one
// TCP chunk (forced here by the proxy's hold/flush; under load it happens by itself), the pool gives the connection
// to the waiting `startTransaction` of @prisma/adapter-pg while parsing that chunk, and the FATAL is parsed before
// the adapter's `await pool.connect()` resumes to add its error listener.
// Prints one JSON line and exits 0 when the process is still up; exits 70 on an uncaught exception (as
// close-with-grace in startService would, closing the service).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrismaClient } from '@mxp/db';
import { createTestDatabase } from '@mxp/db/testing';
import { hostAndPort, startDbProxy } from '@mxp/testing/db-proxy';
import { buildApp } from '../../src/app.js';
import { loadAuthServiceConfig } from '../../src/config.js';
import { testEnv } from '../helpers.js';

const ADMIN = 'mxp-crash-probe-admin';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const database = await createTestDatabase();
const target = hostAndPort(database.url);
const proxy = await startDbProxy(target.port, target.host);
const app = await buildApp(
  loadAuthServiceConfig(
    testEnv(proxy.urlThrough(database.url), {
      DATA_DIR: mkdtempSync(join(tmpdir(), 'mxp-crash-probe-')),
      // One connection: whatever needs it next waits in the pool's queue.
      DATABASE_POOL_MAX: '1',
    }),
  ),
);
const admin = createPrismaClient(database.url, { applicationName: ADMIN });

async function cleanUp(): Promise<void> {
  proxy.flush();
  await app.close().catch(() => {});
  await proxy.close().catch(() => {});
  await admin.$disconnect().catch(() => {});
  await database.drop().catch(() => {});
}

process.on('uncaughtException', (error: Error & { code?: string }) => {
  process.stdout.write(`${JSON.stringify({ survived: false, uncaught: error.message, code: error.code })}\n`);
  void cleanUp().finally(() => process.exit(70));
});

const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => 'ok',
    (error: Error) => `failed: ${error.message.split('\n').at(-1)}`,
  );

await app.db.$queryRaw`SELECT 1`;
proxy.hold();
// A query of a request: its reply is held back by the proxy.
const first = outcome(app.db.$queryRaw`SELECT 1`);
await sleep(100);
// A route's transaction (login, logout, refresh, closing sessions) waiting for the connection.
const waiting = outcome(app.db.$transaction(async (tx) => tx.$queryRaw`SELECT 1`));
await sleep(100);
// The operator (or a fast shutdown) terminates the service's connections.
await admin.$queryRaw`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
  WHERE datname = ${database.name} AND application_name <> ${ADMIN} AND pid <> pg_backend_pid()`;
await sleep(200);
// The reply and the FATAL message reach the client together.
proxy.flush();
const results = await Promise.all([first, waiting]);
await sleep(300);
const healthy = await outcome(app.db.$queryRaw`SELECT 1`);
process.stdout.write(`${JSON.stringify({ survived: true, first: results[0], waiting: results[1], healthy })}\n`);
await cleanUp();
process.exit(0);
