// Prisma's official schema engine (the code behind `prisma migrate deploy` / `prisma migrate diff`), run from its
// WebAssembly build through @prisma/adapter-pg, so migrating needs no engine binary download (see
// shared/spec/toolchain.md). Internal to this package: migrate.ts, create-migration.ts and testing.ts use it.
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import {
  bindMigrationAwareSqlAdapterFactory,
  ColumnTypeEnum,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import type { MigrationList, SchemaEngine, SchemaFilter } from '@prisma/schema-engine-wasm/schema_engine_bg';
import * as wasmBindings from '@prisma/schema-engine-wasm/schema_engine_bg';
import pg from 'pg';

export type { MigrationList, SchemaEngine };

/** No tables or enums are managed outside Prisma. */
export const NO_EXTERNAL_ENTITIES: SchemaFilter = { externalTables: [], externalEnums: [] };

export const MIGRATION_LOCK_FILE = 'migration_lock.toml';
export const MIGRATION_SCRIPT_FILE = 'migration.sql';

// The `WebAssembly` global is not in the ES2023 lib, and @types/node declares only its types.
const webAssembly = (
  globalThis as unknown as {
    WebAssembly: {
      instantiate(
        bytes: Uint8Array,
        imports: Record<string, object>,
      ): Promise<{ instance: { exports: Record<string, unknown> } }>;
    };
  }
).WebAssembly;

let wasmReady: Promise<void> | undefined;

/** Instantiates the engine's WebAssembly module once per process. */
function loadWasm(): Promise<void> {
  wasmReady ??= (async () => {
    // The bindings module can outlive this module (vitest re-evaluates sources but shares node_modules), and
    // instantiating twice would swap the memory under engines that are still running.
    installPanicRegistry();
    if (isWasmLoaded()) return;
    // The package's entry imports the `.wasm` as an ES module, which Node 20 cannot load; the `_bg` bindings accept
    // an instance that we create ourselves.
    const bindingsPath = createRequire(import.meta.url).resolve('@prisma/schema-engine-wasm/schema_engine_bg');
    const bytes = await readFile(join(dirname(bindingsPath), 'schema_engine_bg.wasm'));
    const { instance } = await webAssembly.instantiate(bytes, { './schema_engine_bg.js': unrefTimers(wasmBindings) });
    wasmBindings.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
  })();
  return wasmReady;
}

interface PanicRegistry {
  message: string | undefined;
  set_message(message: string): void;
}

// A Rust panic inside the engine surfaces in JS as "RuntimeError: unreachable"; the engine first hands the panic
// message to this global registry (the Prisma CLI installs the same one), so errors can tell what went wrong.
function installPanicRegistry(): void {
  const global = globalThis as { PRISMA_WASM_PANIC_REGISTRY?: PanicRegistry };
  global.PRISMA_WASM_PANIC_REGISTRY ??= {
    message: undefined,
    set_message(message: string) {
      this.message = message;
    },
  };
}

function lastPanicMessage(): string | undefined {
  return (globalThis as { PRISMA_WASM_PANIC_REGISTRY?: PanicRegistry }).PRISMA_WASM_PANIC_REGISTRY?.message;
}

// The engine arms timers (10 s) that it never clears, which kept a finished `db:migrate` alive for 10 seconds;
// unreferenced, they no longer hold the process open, and they still fire if it keeps running.
function unrefTimers(bindings: object): Record<string, unknown> {
  const imports: Record<string, unknown> = { ...bindings };
  for (const [name, value] of Object.entries(imports)) {
    if (!name.startsWith('__wbg_setTimeout_') || typeof value !== 'function') continue;
    imports[name] = (...args: unknown[]) => {
      const timer: unknown = value(...args);
      (timer as { unref?: () => void } | null)?.unref?.();
      return timer;
    };
  }
  return imports;
}

function isWasmLoaded(): boolean {
  try {
    wasmBindings.version();
    return true;
  } catch {
    return false;
  }
}

// `"char"` (OID 18) is the one-byte type of catalog columns such as pg_constraint.contype, which the engine reads
// when it describes a database; @prisma/adapter-pg has no mapping for it and fails with "Column type 'char' could
// not be deserialized". The pool reports such columns as text, so the adapter accepts them, and remembers them
// (by result rows) so that the adapter's answer can declare them as the engine's Character type.
const PG_INTERNAL_CHAR_OID = 18;
const PG_TEXT_OID = 25;

function acceptInternalChar(pool: pg.Pool, adapter: SqlDriverAdapter): void {
  const charColumns = new WeakMap<unknown[], number[]>();
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<pg.QueryResult | pg.QueryResult[]>;
  const poolQuery = async (...args: unknown[]) => {
    const result = await query(...args);
    for (const part of Array.isArray(result) ? result : [result]) {
      const columns: number[] = [];
      (part.fields ?? []).forEach((field, index) => {
        if (field.dataTypeID !== PG_INTERNAL_CHAR_OID) return;
        field.dataTypeID = PG_TEXT_OID;
        columns.push(index);
      });
      if (columns.length > 0) charColumns.set(part.rows, columns);
    }
    return result;
  };
  pool.query = poolQuery as unknown as typeof pool.query;
  const queryRaw = adapter.queryRaw.bind(adapter);
  adapter.queryRaw = async (sqlQuery) => {
    const result = await queryRaw(sqlQuery);
    for (const index of charColumns.get(result.rows) ?? []) result.columnTypes[index] = ColumnTypeEnum.Character;
    return result;
  };
}

/** Options of {@link openSchemaEngine}. */
export interface SchemaEngineOptions {
  /** The database the engine works on. */
  databaseUrl: string;
  /** An empty database the engine may fill when it replays migrations (`diff` from a migrations folder). */
  shadowDatabaseUrl?: string;
  /** Prisma schema files, as `[path, content]`; they tell the engine which PostgreSQL schemas the model spans. */
  datamodels?: [string, string][];
  /** Receives the engine's log messages. */
  log?: (message: string) => void;
}

/** A running engine and the way to release its connections. */
export interface OpenSchemaEngine {
  engine: SchemaEngine;
  close(): Promise<void>;
}

/** Starts the WebAssembly schema engine on `databaseUrl`; `close()` must be called to release its connections. */
export async function openSchemaEngine(options: SchemaEngineOptions): Promise<OpenSchemaEngine> {
  await loadWasm();
  const pools: pg.Pool[] = [];
  const connect = async (url: string): Promise<SqlDriverAdapter> => {
    const { config, schema } = poolConfig(url);
    const pool = new pg.Pool(config);
    pools.push(pool);
    // An idle connection that the server ends (database dropped, server restart) must not crash the process with
    // an unhandled 'error' event; the next query reports the failure.
    pool.on('error', () => {});
    const adapter = await new PrismaPg(pool, schema === undefined ? undefined : { schema }).connect();
    acceptInternalChar(pool, adapter);
    // @prisma/adapter-pg splits scripts on every `;` (breaking semicolons in strings, comments and function
    // bodies) and runs the pieces one by one. One simple-protocol query runs the whole migration in one implicit
    // transaction, as the native engine does.
    adapter.executeScript = async (script: string) => {
      await adapter.executeRaw({ sql: script, args: [], argTypes: [] });
    };
    return adapter;
  };
  const factory: SqlMigrationAwareDriverAdapterFactory = {
    provider: 'postgres',
    adapterName: '@prisma/adapter-pg',
    connect: () => connect(options.databaseUrl),
    connectToShadowDb: () => {
      if (options.shadowDatabaseUrl === undefined) throw new Error('This operation needs a shadow database');
      return connect(options.shadowDatabaseUrl);
    },
  };
  const close = async () => {
    // Ending the pools also releases the engine's session-level advisory lock.
    await Promise.allSettled(pools.map((pool) => pool.end()));
  };
  const log = options.log;
  try {
    const engine = await wasmBindings.SchemaEngine.new(
      { datamodels: options.datamodels },
      (line: string) => {
        if (log !== undefined) forwardLog(line, log);
      },
      bindMigrationAwareSqlAdapterFactory(factory),
    );
    return {
      engine,
      close: async () => {
        engine.free();
        await close();
      },
    };
  } catch (err) {
    await close();
    throw cleanEngineError(err);
  }
}

function poolConfig(url: string): { config: pg.PoolConfig; schema: string | undefined } {
  const schema = new URL(url).searchParams.get('schema') ?? undefined;
  const config: pg.PoolConfig = {
    connectionString: url,
    // One connection: the engine's `pg_advisory_lock` is session-level, so every statement of a run must go
    // through the session that holds it, and that session must not be closed for idleness mid-run.
    max: 1,
    idleTimeoutMillis: 0,
    connectionTimeoutMillis: 10_000,
  };
  // Like `prisma migrate deploy`: `?schema=` names the schema of `_prisma_migrations` (default `public`), which the
  // engine creates unqualified, so it must come first in the search path. @prisma/adapter-pg ignores the parameter.
  if (schema !== undefined) config.options = `-c search_path=${quoteIdentifier(schema)}`;
  return { config, schema };
}

/** Double-quotes a PostgreSQL identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function forwardLog(line: string, log: (message: string) => void): void {
  try {
    const entry = JSON.parse(line) as { level?: string; fields?: { message?: string } };
    const message = entry.fields?.message;
    if (message !== undefined && entry.level !== 'DEBUG' && entry.level !== 'TRACE') log(message);
  } catch {
    log(line);
  }
}

/** Strips the Rust span trace the engine appends to its error messages. */
export function cleanEngineError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const panic = lastPanicMessage();
  if (err.name === 'RuntimeError' && panic !== undefined) {
    const wrapped = new Error(`Schema engine panic: ${panic}`, { cause: err });
    wrapped.name = 'SchemaEngineError';
    return wrapped;
  }
  const trace = err.message.search(/\n\s+0: /);
  if (trace === -1) return err;
  const cleaned = new Error(err.message.slice(0, trace).trim(), { cause: err });
  cleaned.name = 'SchemaEngineError';
  return cleaned;
}

/** Reads a migrations folder the way the Prisma CLI does (subfolders in name order, each with `migration.sql`). */
export async function readMigrations(migrationsDir: string, lockfileContent?: string): Promise<MigrationList> {
  const lockfile = await readFile(join(migrationsDir, MIGRATION_LOCK_FILE), 'utf8').catch(() => null);
  const entries = await readdir(migrationsDir, { withFileTypes: true }).catch(() => []);
  const directories = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort((a, b) => a.localeCompare(b));
  const migrationDirectories = await Promise.all(
    directories.map(async (path) => {
      const content = await readFile(join(migrationsDir, path, MIGRATION_SCRIPT_FILE), 'utf8').then(
        (value) => ({ tag: 'ok' as const, value }),
        (err: Error) => ({ tag: 'error' as const, value: err.message }),
      );
      return { path, migrationFile: { path: MIGRATION_SCRIPT_FILE, content } };
    }),
  );
  return {
    baseDir: migrationsDir,
    lockfile: { path: MIGRATION_LOCK_FILE, content: lockfile ?? lockfileContent ?? null },
    shadowDbInitScript: '',
    migrationDirectories,
  };
}

/** Reads a Prisma schema file for the engine, or nothing when it does not exist. */
export async function readDatamodels(schemaPath: string): Promise<[string, string][] | undefined> {
  const content = await readFile(schemaPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  return content === undefined ? undefined : [[schemaPath, content]];
}
