import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMigration, migrationSlug, migrationTimestamp } from '../src/create-migration.js';
import { defaultMigrationsDir, defaultSchemaPath } from '../src/migrate.js';
import { adminQuery, closedPort, copyMigrations, serverUrl, tableNames } from './helpers.js';

const now = new Date('2031-02-03T04:05:06.789Z');

/** The repository's schema with one more column on token_audit. */
async function changedSchema(): Promise<string> {
  const schema = await readFile(defaultSchemaPath, 'utf8');
  const changed = schema.replace(/^( {2}ip {8}String\?)$/m, '$1\n  country   String? @db.VarChar(2)');
  expect(changed).not.toBe(schema);
  const path = join(await mkdtemp(join(tmpdir(), 'mxp-db-schema-')), 'schema.prisma');
  await writeFile(path, changed);
  return path;
}

async function folders(dir: string): Promise<string[]> {
  return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
}

const ADD_COUNTRY = '-- AlterTable\nALTER TABLE "otherclient"."token_audit" ADD COLUMN     "country" VARCHAR(2);\n';

describe('createMigration', () => {
  it('writes the difference between the migrations and the schema as the next migration', async () => {
    const migrationsDir = await copyMigrations();
    const before = await folders(migrationsDir);
    const created = await createMigration({
      name: 'Add country!',
      migrationsDir,
      schemaPath: await changedSchema(),
      shadowServerUrl: serverUrl,
      now,
    });
    expect(created?.name).toBe('20310203040506_add_country');
    expect(created?.sql).toBe(ADD_COUNTRY);
    expect(await readFile(join(migrationsDir, '20310203040506_add_country', 'migration.sql'), 'utf8')).toBe(
      ADD_COUNTRY,
    );
    expect((await folders(migrationsDir)).sort()).toEqual([...before, '20310203040506_add_country'].sort());
  });

  it('drops its throwaway database', async () => {
    // Compared with what was there before: a run killed mid-test (a timeout) can leave its own shadow database on
    // the shared server, and that one is not this call's.
    const shadows = () =>
      adminQuery(`SELECT datname FROM pg_database WHERE datname LIKE 'mxp\\_shadow\\_%' ORDER BY datname`);
    const before = await shadows();
    await createMigration({ name: 'noop', migrationsDir: await copyMigrations(), shadowServerUrl: serverUrl, now });
    expect(await shadows()).toEqual(before);
  });

  it('writes nothing when the schema matches the migrations', async () => {
    const migrationsDir = await copyMigrations();
    const before = await folders(migrationsDir);
    expect(await createMigration({ name: 'nothing', migrationsDir, shadowServerUrl: serverUrl, now })).toBeNull();
    expect(await folders(migrationsDir)).toEqual(before);
  });

  it('replays the migrations in PGlite when no server answers, with the same result', { timeout: 30_000 }, async () => {
    const migrationsDir = await copyMigrations();
    const messages: string[] = [];
    const created = await createMigration({
      name: 'add_country',
      migrationsDir,
      schemaPath: await changedSchema(),
      shadowServerUrl: `postgresql://postgres@127.0.0.1:${await closedPort()}/postgres`,
      now,
      log: (message) => messages.push(message),
    });
    expect(created?.sql).toBe(ADD_COUNTRY);
    expect(messages.some((message) => message.includes('in-memory PGlite'))).toBe(true);
  });

  it('finds nothing to add to the committed migrations: they match prisma/schema.prisma', async () => {
    const created = await createMigration({
      name: 'drift',
      migrationsDir: await copyMigrations(),
      shadowServerUrl: serverUrl,
      now,
    });
    expect(created).toBeNull();
  });

  it('produces a first migration with both schemas, every table and the lock file, from nothing', async () => {
    const migrationsDir = join(await mkdtemp(join(tmpdir(), 'mxp-db-first-')), 'migrations');
    const created = await createMigration({ name: 'init', migrationsDir, shadowServerUrl: serverUrl, now });
    expect(created?.sql).toMatch(/^CREATE SCHEMA IF NOT EXISTS "auth";$/m);
    expect(created?.sql).toMatch(/^CREATE SCHEMA IF NOT EXISTS "otherclient";$/m);
    for (const [schema, tables] of Object.entries(tableNames)) {
      for (const table of tables) expect(created?.sql).toContain(`CREATE TABLE "${schema}"."${table}"`);
    }
    const [first] = (await folders(defaultMigrationsDir)).sort();
    expect(first).toMatch(/^\d{14}_init$/);
    const lock = await readFile(join(migrationsDir, 'migration_lock.toml'), 'utf8');
    expect(lock).toBe(await readFile(join(defaultMigrationsDir, 'migration_lock.toml'), 'utf8'));
    expect(lock).toMatch(/^provider = "postgresql"$/m);
  });
});

describe('migration names', () => {
  it('uses the UTC timestamp prefix of Prisma', () => {
    expect(migrationTimestamp(now)).toBe('20310203040506');
  });

  it('reduces names to lower-case words joined by underscores', () => {
    expect(migrationSlug('  Add user-locale ')).toBe('add_user_locale');
    expect(() => migrationSlug('!!!')).toThrow(/Invalid migration name/);
  });
});
