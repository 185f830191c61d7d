import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultMigrationsDir, migrateDatabase } from '../src/migrate.js';
import { copyMigrations, createEmptyDatabase, queryAt, tableNames } from './helpers.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function emptyDatabase() {
  const db = await createEmptyDatabase();
  cleanups.push(db.drop);
  return db;
}

async function repositoryMigrations(): Promise<string[]> {
  const entries = await readdir(defaultMigrationsDir, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  applied_steps_count: number;
  logs: string | null;
}

describe('migrateDatabase', () => {
  it('applies every migration once, recorded in public._prisma_migrations as prisma migrate deploy does', async () => {
    const db = await emptyDatabase();
    const migrations = await repositoryMigrations();
    expect(migrations.length).toBeGreaterThan(0);

    const first = await migrateDatabase({ databaseUrl: db.url });
    expect(first.applied).toEqual(migrations);
    expect((await migrateDatabase({ databaseUrl: db.url })).applied).toEqual([]);

    const tables = await queryAt<{ table_schema: string; table_name: string }>(
      db.url,
      `SELECT table_schema, table_name FROM information_schema.tables
       WHERE table_schema IN ('auth', 'otherclient', 'public') ORDER BY 1, 2`,
    );
    expect(tables).toEqual([
      ...tableNames.auth.map((table_name) => ({ table_schema: 'auth', table_name })),
      ...tableNames.otherclient.map((table_name) => ({ table_schema: 'otherclient', table_name })),
      { table_schema: 'public', table_name: '_prisma_migrations' },
    ]);

    const rows = await queryAt<MigrationRow>(db.url, 'SELECT * FROM public._prisma_migrations ORDER BY started_at');
    expect(rows.map((row) => row.migration_name)).toEqual(migrations);
    for (const row of rows) {
      const script = await readFile(join(defaultMigrationsDir, row.migration_name, 'migration.sql'));
      // The checksum `prisma migrate deploy` compares: SHA-256 of the file.
      expect(row.checksum).toBe(createHash('sha256').update(script).digest('hex'));
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.rolled_back_at).toBeNull();
      expect(row.applied_steps_count).toBe(1);
    }
  });

  it('puts _prisma_migrations in the schema named by ?schema=, as prisma migrate deploy does', async () => {
    const db = await emptyDatabase();
    await migrateDatabase({ databaseUrl: `${db.url}?schema=ops` });
    const found = await queryAt<{ schema: string }>(
      db.url,
      `SELECT table_schema AS schema FROM information_schema.tables WHERE table_name = '_prisma_migrations'`,
    );
    expect(found).toEqual([{ schema: 'ops' }]);
    expect((await migrateDatabase({ databaseUrl: `${db.url}?schema=ops` })).applied).toEqual([]);
  });

  it('lets concurrent runs apply each migration exactly once', async () => {
    const db = await emptyDatabase();
    const results = await Promise.all(Array.from({ length: 4 }, () => migrateDatabase({ databaseUrl: db.url })));
    const applied = results.flatMap((result) => result.applied);
    expect(applied.sort()).toEqual(await repositoryMigrations());
    const rows = await queryAt<{ n: string }>(db.url, 'SELECT count(*) AS n FROM _prisma_migrations');
    expect(Number(rows[0]?.n)).toBe(applied.length);
  });

  it('records a failing migration, rolls its statements back and refuses to continue', async () => {
    const db = await emptyDatabase();
    const migrationsDir = await copyMigrations();
    const bad = join(migrationsDir, '99990101000000_bad');
    await mkdir(bad);
    // A semicolon inside a string checks that the script is not split on `;`.
    await writeFile(
      join(bad, 'migration.sql'),
      `CREATE TABLE "auth"."half_done" (note text DEFAULT 'a;b');\nSELECT 1 / 0;\n`,
    );
    await expect(migrateDatabase({ databaseUrl: db.url, migrationsDir })).rejects.toThrow(/division by zero/);

    const rows = await queryAt<MigrationRow>(
      db.url,
      `SELECT * FROM _prisma_migrations WHERE migration_name = '99990101000000_bad'`,
    );
    expect(rows[0]?.finished_at).toBeNull();
    expect(rows[0]?.logs).toMatch(/division by zero/);
    const half = await queryAt<{ t: string | null }>(db.url, `SELECT to_regclass('auth.half_done')::text AS t`);
    expect(half[0]?.t).toBeNull();

    await expect(migrateDatabase({ databaseUrl: db.url, migrationsDir })).rejects.toThrow(/failed migrations/);
  });

  it('refuses a missing migrations folder', async () => {
    const db = await emptyDatabase();
    await expect(migrateDatabase({ databaseUrl: db.url, migrationsDir: '/nonexistent/migrations' })).rejects.toThrow(
      /Migrations folder not found/,
    );
  });

  it('fails fast when the database is unreachable', async () => {
    const started = Date.now();
    await expect(migrateDatabase({ databaseUrl: 'postgresql://postgres@127.0.0.1:1/postgres' })).rejects.toThrow(
      /Can't reach database server/,
    );
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

// Each run starts a Node process with tsx (about half a second).
describe('db:migrate command', { timeout: 20_000 }, () => {
  const run = (env: Record<string, string | undefined>) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', '--conditions=@mxp/source', 'src/cli/migrate.ts'],
        { cwd: packageDir, env: { ...process.env, DATABASE_URL: undefined, MIGRATIONS_DIR: undefined, ...env } },
        (error, stdout, stderr) => resolve({ status: error === null ? 0 : Number(error.code), stdout, stderr }),
      );
    });

  it('names the missing variable', async () => {
    const result = await run({});
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/DATABASE_URL is not set/);
  });

  it('prints what it applied, then "No pending migrations"', async () => {
    const db = await emptyDatabase();
    const first = await run({ DATABASE_URL: db.url });
    expect(first.status).toBe(0);
    expect(first.stdout.trim().split('\n')).toEqual((await repositoryMigrations()).map((name) => `Applied ${name}`));
    const second = await run({ DATABASE_URL: db.url });
    expect(second.status).toBe(0);
    expect(second.stdout.trim()).toBe('No pending migrations');
  });

  it('exits 1 with the reason when migrating fails', async () => {
    const result = await run({ DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/postgres' });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^Migration failed: Can't reach database server/);
  });

  it('reads MIGRATIONS_DIR', async () => {
    const db = await emptyDatabase();
    const result = await run({ DATABASE_URL: db.url, MIGRATIONS_DIR: '/nonexistent/migrations' });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/Migrations folder not found: \/nonexistent\/migrations/);
  });
});
