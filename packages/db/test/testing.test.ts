import { appendFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPrismaClient } from '../src/index.js';
import { defaultMigrationsDir } from '../src/migrate.js';
import {
  createTestDatabase,
  ensureTestTemplate,
  hashMigrations,
  prepareTestTemplate,
  type TestDatabase,
} from '../src/testing.js';
import { adminQuery, copyMigrations, queryAt, serverUrl, tableNames, urlOf } from './helpers.js';

const databases: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

async function testDatabase(options?: Parameters<typeof createTestDatabase>[0]): Promise<TestDatabase> {
  const db = await createTestDatabase(options);
  databases.push(db);
  return db;
}

async function databaseExists(name: string): Promise<boolean> {
  return (await adminQuery('SELECT 1 FROM pg_database WHERE datname = $1', [name])).length === 1;
}

describe('test databases', () => {
  it('are named after the hash of the migrations folder', async () => {
    const template = await ensureTestTemplate();
    expect(template.name).toBe(`mxp_template_${await hashMigrations(defaultMigrationsDir)}`);
    expect(template.name).toMatch(/^mxp_template_[0-9a-f]{12}$/);
    expect(await databaseExists(template.name)).toBe(true);
  });

  it('come from a template holding every table of both schemas and the migration history', async () => {
    const template = await ensureTestTemplate();
    // Read briefly: `CREATE DATABASE ... TEMPLATE` by other workers waits (retries) while someone is connected.
    const tables = await queryAt<{ schema: string; name: string }>(
      template.url,
      `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
       WHERE table_schema IN ('auth', 'otherclient', 'public') ORDER BY 1, 2`,
    );
    expect(tables).toEqual([
      ...tableNames.auth.map((name) => ({ schema: 'auth', name })),
      ...tableNames.otherclient.map((name) => ({ schema: 'otherclient', name })),
      { schema: 'public', name: '_prisma_migrations' },
    ]);
    const history = await queryAt<{ migration_name: string }>(
      template.url,
      'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY 1',
    );
    const migrations = (await readdir(defaultMigrationsDir, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
    expect(history.map((row) => row.migration_name)).toEqual(migrations);
  });

  it('are independent of each other', async () => {
    const first = await testDatabase();
    const second = await testDatabase();
    expect(first.name).not.toBe(second.name);
    expect(first.url).toBe(urlOf(first.name));

    const a = createPrismaClient(first.url);
    const b = createPrismaClient(second.url);
    try {
      await a.user.create({ data: { username: 'only-in-a', passwordHash: 'x' } });
      await b.apiClient.create({ data: { name: 'only-in-b', secretHash: 'h' } });
      expect(await a.user.count()).toBe(1);
      expect(await b.user.count()).toBe(0);
      expect(await a.apiClient.count()).toBe(0);
      expect(await b.apiClient.count()).toBe(1);
    } finally {
      await Promise.all([a.$disconnect(), b.$disconnect()]);
    }
  });

  it('are dropped, connections and all', async () => {
    const db = await testDatabase();
    const prisma = createPrismaClient(db.url);
    await prisma.user.count();
    // The client still holds a pooled connection: drop() must terminate it.
    await db.drop();
    await db.drop();
    expect(await databaseExists(db.name)).toBe(false);
    await prisma.$disconnect();
  });

  it('get a new template when a migration changes', async () => {
    const migrationsDir = await copyMigrations();
    const [first] = (await readdir(migrationsDir, { withFileTypes: true })).filter((e) => e.isDirectory());
    await appendFile(
      join(migrationsDir, first?.name ?? '', 'migration.sql'),
      '\nCREATE TABLE "auth"."extra" (id int);\n',
    );
    const original = await ensureTestTemplate();
    const changed = await ensureTestTemplate({ migrationsDir });
    try {
      expect(changed.name).not.toBe(original.name);
      const db = await testDatabase({ migrationsDir });
      const extra = await queryAt<{ t: string | null }>(db.url, `SELECT to_regclass('auth.extra')::text AS t`);
      expect(extra[0]?.t).toBe('auth.extra');
    } finally {
      await Promise.all(databases.splice(0).map((db) => db.drop()));
      await adminQuery(`DROP DATABASE IF EXISTS "${changed.name}"`);
    }
  });

  it('builds the template once when many workers ask at the same time', async () => {
    const migrationsDir = await copyMigrations();
    const [first] = (await readdir(migrationsDir, { withFileTypes: true })).filter((e) => e.isDirectory());
    await appendFile(join(migrationsDir, first?.name ?? '', 'migration.sql'), '\n-- concurrency test\n');
    // Different server URL spellings defeat the in-process cache, like separate workers would.
    const spellings = ['', '?application_name=w1', '?application_name=w2', '?application_name=w3'];
    const made = await Promise.all(
      spellings.map((query) => testDatabase({ serverUrl: `${serverUrl}${query}`, migrationsDir })),
    );
    try {
      expect(new Set(made.map((db) => db.name)).size).toBe(4);
    } finally {
      await Promise.all(databases.splice(0).map((db) => db.drop()));
      await adminQuery(`DROP DATABASE IF EXISTS "mxp_template_${await hashMigrations(migrationsDir)}"`);
    }
  });

  it('clean up databases left by crashed runs more than an hour ago', async () => {
    const old = `mxp_test_${(Date.now() - 2 * 60 * 60 * 1000).toString(36)}_deadbeef`;
    const recent = `mxp_test_${(Date.now() - 5 * 60 * 1000).toString(36)}_cafebabe`;
    await adminQuery(`CREATE DATABASE "${old}"`);
    await adminQuery(`CREATE DATABASE "${recent}"`);
    try {
      await prepareTestTemplate();
      expect(await databaseExists(old)).toBe(false);
      expect(await databaseExists(recent)).toBe(true);
    } finally {
      await adminQuery(`DROP DATABASE IF EXISTS "${old}"`);
      await adminQuery(`DROP DATABASE IF EXISTS "${recent}"`);
    }
  });
});
