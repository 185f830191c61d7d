import { migrateDatabase } from '@mxp/db/migrate';
import pg from 'pg';

/** The URL of database `name` on the server of `serverUrl` (same credentials and options). */
export function databaseUrlFor(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Drops and creates the bench database and applies the repository's migrations with @mxp/db (the runner production
 * uses), so every run starts from the same empty schema. Returns its URL and the server's version.
 */
export async function freshDatabase(serverUrl: string, name: string): Promise<{ url: string; version: string }> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`BENCH_DATABASE must be a plain identifier, got "${name}"`);
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  let version: string;
  try {
    version = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '?';
    // WITH (FORCE) ends connections left over by an aborted run (PostgreSQL 13+).
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = databaseUrlFor(serverUrl, name);
  await migrateDatabase({ databaseUrl: url });
  return { url, version };
}

/** A connection of the harness itself (seeding, checks), closed by the caller. */
export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}
