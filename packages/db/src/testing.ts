// One database per test file, cloned from a migrated template: `CREATE DATABASE ... TEMPLATE` copies files instead
// of replaying migrations, and separate databases isolate a data model that spans several PostgreSQL schemas
// (which `?schema=` cannot, see shared/spec/toolchain.md).
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import pg from 'pg';
import { defaultMigrationsDir, migrateDatabase } from './migrate.js';
import { quoteIdentifier } from './schema-engine.js';

/** The server used when `DATABASE_URL` is not set. */
export const DEFAULT_TEST_SERVER_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

const TEST_DATABASE_PREFIX = 'mxp_test_';
const TEMPLATE_PREFIX = 'mxp_template_';
// Test databases left by crashed runs are dropped after this age (it is encoded in their names).
const STALE_TEST_DATABASE_MILLIS = 60 * 60 * 1000;
// Templates of other migration folders are dropped after this age (recorded in their comment).
const STALE_TEMPLATE_MILLIS = 24 * 60 * 60 * 1000;
// pg_advisory_lock(int, int) key serializing template builds across vitest workers, projects and runs: "mxp", 1.
const TEMPLATE_LOCK = [0x6d7870, 1] as const;

/** Where test databases are created. */
export interface TestDatabaseOptions {
  /** A database on the server to connect to for `CREATE DATABASE` (default: `DATABASE_URL`, else the local server). */
  serverUrl?: string;
  /** Migrations the template is built from (default: the repository's `prisma/migrations`). */
  migrationsDir?: string;
}

/** The migrated template of a migrations folder. */
export interface TestTemplate {
  name: string;
  url: string;
  /** Short hash of the migrations folder, part of the name. */
  hash: string;
}

/** A throwaway database for one test file. */
export interface TestDatabase {
  name: string;
  url: string;
  /** Terminates its remaining connections and drops it. */
  drop(): Promise<void>;
}

const templates = new Map<string, Promise<TestTemplate>>();

/** Builds the migrated template once (for a vitest `globalSetup`), and drops databases left by crashed runs. */
export async function prepareTestTemplate(): Promise<void> {
  const template = await ensureTestTemplate();
  // The template may come from this process's cache, which skipped the cleanup.
  await withAdmin(testServerUrl(), (admin) => dropStaleDatabases(admin, template.name));
}

/**
 * Returns the template for the current migrations, building it when missing. Builds are serialized by an advisory
 * lock, so parallel workers build it once; a changed migration gives a new hash, hence a new template.
 */
export function ensureTestTemplate(options: TestDatabaseOptions = {}): Promise<TestTemplate> {
  const serverUrl = options.serverUrl ?? testServerUrl();
  const migrationsDir = options.migrationsDir ?? defaultMigrationsDir;
  const key = `${serverUrl}\n${migrationsDir}`;
  let template = templates.get(key);
  if (template === undefined) {
    template = buildTemplate(serverUrl, migrationsDir);
    templates.set(key, template);
    // A failure (server down) must not be cached for the rest of the run.
    template.catch(() => templates.delete(key));
  }
  return template;
}

/** Creates an empty, fully migrated database cloned from the template. */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const serverUrl = options.serverUrl ?? testServerUrl();
  const template = await ensureTestTemplate({ ...options, serverUrl });
  const name = `${TEST_DATABASE_PREFIX}${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await withAdmin(serverUrl, (admin) =>
    retryWhileInUse(() =>
      admin.query(`CREATE DATABASE ${quoteIdentifier(name)} TEMPLATE ${quoteIdentifier(template.name)}`),
    ),
  );
  let dropped: Promise<void> | undefined;
  return {
    name,
    url: databaseUrl(serverUrl, name),
    drop: () => {
      dropped ??= withAdmin(serverUrl, async (admin) => {
        await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
      });
      return dropped;
    },
  };
}

/** Short hash of every file of a migrations folder (names and contents). */
export async function hashMigrations(migrationsDir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const file of await listFiles(migrationsDir)) {
    hash.update(`${relative(migrationsDir, file)}\0`);
    hash.update(await readFile(file));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 12);
}

function testServerUrl(): string {
  const url = process.env.DATABASE_URL;
  return url === undefined || url === '' ? DEFAULT_TEST_SERVER_URL : url;
}

async function buildTemplate(serverUrl: string, migrationsDir: string): Promise<TestTemplate> {
  const hash = await hashMigrations(migrationsDir);
  const name = `${TEMPLATE_PREFIX}${hash}`;
  const template = { name, url: databaseUrl(serverUrl, name), hash };
  await withAdmin(serverUrl, async (admin) => {
    await admin.query('SELECT pg_advisory_lock($1, $2)', [...TEMPLATE_LOCK]);
    try {
      await dropStaleDatabases(admin, name);
      const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (found.rowCount !== 0) return;
      // Built under another name and renamed when complete: a crash mid-build never leaves a half-migrated
      // template behind, and nobody is connected to the final name (which `CREATE DATABASE ... TEMPLATE` requires).
      const building = `${name}_building`;
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(building)} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${quoteIdentifier(building)}`);
      await migrateDatabase({ databaseUrl: databaseUrl(serverUrl, building), migrationsDir });
      // The migration's connections may still be closing on the server side.
      await retryWhileInUse(() =>
        admin.query(`ALTER DATABASE ${quoteIdentifier(building)} RENAME TO ${quoteIdentifier(name)}`),
      );
      const comment = JSON.stringify({ createdAt: new Date().toISOString() });
      await admin.query(`COMMENT ON DATABASE ${quoteIdentifier(name)} IS '${comment}'`);
    } finally {
      await admin.query('SELECT pg_advisory_unlock($1, $2)', [...TEMPLATE_LOCK]);
    }
  });
  return template;
}

async function dropStaleDatabases(admin: pg.Client, currentTemplate: string): Promise<void> {
  const { rows } = await admin.query<{ datname: string; comment: string | null }>(
    `SELECT datname, shobj_description(oid, 'pg_database') AS comment FROM pg_database
     WHERE datname LIKE 'mxp\\_test\\_%' OR datname LIKE 'mxp\\_template\\_%'`,
  );
  const now = Date.now();
  for (const { datname, comment } of rows) {
    if (datname === currentTemplate) continue;
    const createdAt = datname.startsWith(TEST_DATABASE_PREFIX)
      ? testDatabaseCreatedAt(datname)
      : templateCreatedAt(comment);
    const maxAge = datname.startsWith(TEST_DATABASE_PREFIX) ? STALE_TEST_DATABASE_MILLIS : STALE_TEMPLATE_MILLIS;
    if (createdAt === undefined || now - createdAt < maxAge) continue;
    // Another run may still use an old template: a plain DROP fails then, and the error is ignored.
    const force = datname.startsWith(TEST_DATABASE_PREFIX) ? ' WITH (FORCE)' : '';
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(datname)}${force}`).catch(() => {});
  }
}

function testDatabaseCreatedAt(name: string): number | undefined {
  const stamp = name.slice(TEST_DATABASE_PREFIX.length).split('_')[0];
  const millis = stamp === undefined ? Number.NaN : Number.parseInt(stamp, 36);
  return Number.isFinite(millis) ? millis : undefined;
}

function templateCreatedAt(comment: string | null): number | undefined {
  if (comment === null) return undefined;
  try {
    const millis = Date.parse((JSON.parse(comment) as { createdAt?: string }).createdAt ?? '');
    return Number.isFinite(millis) ? millis : undefined;
  } catch {
    return undefined;
  }
}

// SQLSTATE 55006: "source database is being accessed by other users", for example a psql session left on the
// template; such sessions are usually brief.
async function retryWhileInUse<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if ((err as { code?: unknown }).code !== '55006' || attempt >= 50) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function withAdmin<T>(serverUrl: string, fn: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5_000 });
  // Without a listener, a server-side disconnect between queries would crash the process.
  admin.on('error', () => {});
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}

function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}
