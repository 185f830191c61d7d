// `pnpm db:migration:new <name>`: writes the next migration from the difference between what the existing
// migrations produce and prisma/schema.prisma. The migrations are replayed in a throwaway database created on
// SHADOW_DATABASE_URL, else DATABASE_URL, else the local server, or in an in-memory PGlite when none answers.
import { relative } from 'node:path';
import { createMigration, LOCAL_SERVER_URL } from '../create-migration.js';

async function main(): Promise<number> {
  const name = process.argv[2];
  if (name === undefined || name === '' || process.argv.length > 3) {
    console.error('Usage: pnpm db:migration:new <name>   (for example: add_user_locale)');
    return 1;
  }
  const created = await createMigration({
    name,
    migrationsDir: process.env.MIGRATIONS_DIR || undefined,
    shadowServerUrl: process.env.SHADOW_DATABASE_URL || process.env.DATABASE_URL || LOCAL_SERVER_URL,
    log: (message) => {
      if (message.startsWith('No PostgreSQL server')) console.log(message);
    },
  });
  if (created === null) {
    console.log('No schema changes');
    return 0;
  }
  // pnpm runs scripts in the package folder; INIT_CWD is where the command was typed.
  console.log(`Created ${relative(process.env.INIT_CWD ?? process.cwd(), created.path)}`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`Could not create the migration: ${err instanceof Error ? err.message.trim() : String(err)}`);
    process.exitCode = 1;
  },
);
