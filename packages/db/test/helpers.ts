import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cp, mkdtemp } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { defaultMigrationsDir, defaultSchemaPath } from '../src/migrate.js';
import { DEFAULT_TEST_SERVER_URL } from '../src/testing.js';

export const serverUrl = process.env.DATABASE_URL || DEFAULT_TEST_SERVER_URL;

/** URL of `database` on the test server. */
export function urlOf(database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Runs one statement on the test server's maintenance database. */
export async function adminQuery<R extends pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<R[]> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/** Runs one query on `url`. */
export async function queryAt<R extends pg.QueryResultRow>(url: string, sql: string, values?: unknown[]): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/** Creates an empty database (the migrate tests need one without the template's tables). */
export async function createEmptyDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  // The mxp_test_ prefix and timestamp let prepareTestTemplate() clean it up if this run crashes.
  const name = `mxp_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE "${name}"`);
  return {
    name,
    url: urlOf(name),
    drop: async () => void (await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)),
  };
}

/** A port on which nothing listens. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A temporary copy of the repository's migrations folder. */
export async function copyMigrations(): Promise<string> {
  const dir = join(await mkdtemp(join(tmpdir(), 'mxp-db-test-')), 'migrations');
  await cp(defaultMigrationsDir, dir, { recursive: true });
  return dir;
}

/** Tables of the data model, by PostgreSQL schema, read from the `@@map` and `@@schema` of each model. */
export const tableNames = tablesOfSchema(readFileSync(defaultSchemaPath, 'utf8'));

function tablesOfSchema(schema: string): { auth: string[]; otherclient: string[] } {
  const tables: Record<string, string[]> = { auth: [], otherclient: [] };
  for (const [, body] of schema.matchAll(/^model \w+ \{\n([\s\S]*?)^\}/gm)) {
    const table = body?.match(/@@map\("([^"]+)"\)/)?.[1];
    const schemaName = body?.match(/@@schema\("([^"]+)"\)/)?.[1];
    if (table && schemaName) {
      tables[schemaName] ??= [];
      tables[schemaName].push(table);
    }
  }
  for (const list of Object.values(tables)) list.sort();
  return tables as { auth: string[]; otherclient: string[] };
}
