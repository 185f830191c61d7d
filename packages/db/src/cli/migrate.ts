// `pnpm db:migrate`: applies pending migrations. Also run compiled (`node packages/db/dist/cli/migrate.js`) in
// production containers, which have no tsx.
import { migrateDatabase } from '../migrate.js';

async function main(): Promise<number> {
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl === undefined || databaseUrl === '') {
    console.error('DATABASE_URL is not set: it must name the database to migrate (postgresql://user@host:port/db).');
    return 1;
  }
  const migrationsDir = process.env.MIGRATIONS_DIR || undefined;
  const { applied } = await migrateDatabase({ databaseUrl, migrationsDir });
  if (applied.length === 0) console.log('No pending migrations');
  for (const name of applied) console.log(`Applied ${name}`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`Migration failed: ${err instanceof Error ? err.message.trim() : String(err)}`);
    process.exitCode = 1;
  },
);
