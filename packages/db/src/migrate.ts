import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  cleanEngineError,
  NO_EXTERNAL_ENTITIES,
  openSchemaEngine,
  readDatamodels,
  readMigrations,
} from './schema-engine.js';

// Resolved from this file, which sits at the same depth in src/ (tsx, vitest) and dist/ (compiled).
/** The repository's `prisma/migrations` folder. */
export const defaultMigrationsDir: string = fileURLToPath(new URL('../../../prisma/migrations', import.meta.url));
/** The repository's `prisma/schema.prisma`. */
export const defaultSchemaPath: string = fileURLToPath(new URL('../../../prisma/schema.prisma', import.meta.url));

/** Options of {@link migrateDatabase}. */
export interface MigrateOptions {
  databaseUrl: string;
  /** Folder of `<name>/migration.sql` (default: the repository's `prisma/migrations`). */
  migrationsDir?: string;
  /**
   * Prisma schema, read only for the list of PostgreSQL schemas it spans (as `prisma migrate deploy` does, to check
   * that a database without migration history is empty). Default: the repository's `prisma/schema.prisma`;
   * skipped when the file is absent.
   */
  schemaPath?: string;
  /** Receives the engine's progress messages. */
  log?: (message: string) => void;
}

/**
 * Applies the pending migrations the way `prisma migrate deploy` does, with the same engine and the same
 * `_prisma_migrations` bookkeeping and advisory lock, so concurrent runs wait for each other.
 */
export async function migrateDatabase(options: MigrateOptions): Promise<{ applied: string[] }> {
  const migrationsDir = options.migrationsDir ?? defaultMigrationsDir;
  // A misplaced folder would otherwise look like "nothing to apply" and leave the database behind.
  const folder = await stat(migrationsDir).catch(() => undefined);
  if (folder?.isDirectory() !== true) throw new Error(`Migrations folder not found: ${migrationsDir}`);
  const migrationsList = await readMigrations(migrationsDir);
  const datamodels = await readDatamodels(options.schemaPath ?? defaultSchemaPath);
  const { engine, close } = await openSchemaEngine({ databaseUrl: options.databaseUrl, datamodels, log: options.log });
  try {
    const { appliedMigrationNames } = await engine.applyMigrations({ migrationsList, filters: NO_EXTERNAL_ENTITIES });
    return { applied: appliedMigrationNames };
  } catch (err) {
    throw cleanEngineError(err);
  } finally {
    await close();
  }
}
