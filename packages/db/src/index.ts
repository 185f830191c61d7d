import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { type Prisma, PrismaClient } from './generated/prisma/client.js';

export { isDatabaseUnavailableError } from './errors.js';
export * from './generated/prisma/client.js';
export { uuidV7 } from './row-ids.js';

/** Options of {@link createPrismaClient}. */
export interface CreatePrismaClientOptions {
  /** Most connections the pool opens (pg default: 10). */
  poolMax?: number;
  /** How long to wait for a new connection before failing the query (default 2,000 ms). */
  connectionTimeoutMillis?: number;
  /** Server-side `statement_timeout` of every connection; unlimited when omitted. */
  statementTimeoutMillis?: number;
  /**
   * Client-side limit for one query, which also covers a server that stopped answering on an open connection.
   * Defaults to `statementTimeoutMillis + 1000` when a statement timeout is set, unlimited otherwise.
   */
  queryTimeoutMillis?: number;
  /** How long an idle connection stays in the pool (default 10,000 ms). */
  idleTimeoutMillis?: number;
  /** `application_name` shown in `pg_stat_activity`. */
  applicationName?: string;
  /** Prisma's own logging. */
  log?: Prisma.PrismaClientOptions['log'];
  /** Told of connection-level errors outside a query (a terminated or dropped connection); they are not thrown. */
  onConnectionError?: (error: Error) => void;
}

const DEFAULT_CONNECTION_TIMEOUT_MILLIS = 2_000;

/** Creates a Prisma client on a `pg` pool whose connection attempts and queries fail within a bounded time. */
export function createPrismaClient(databaseUrl: string, options: CreatePrismaClientOptions = {}): PrismaClient {
  const queryTimeout =
    options.queryTimeoutMillis ??
    (options.statementTimeoutMillis === undefined ? undefined : options.statementTimeoutMillis + 1_000);
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.poolMax,
    // Without it pg waits for the OS TCP timeout (minutes) when the server is unreachable.
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? DEFAULT_CONNECTION_TIMEOUT_MILLIS,
    idleTimeoutMillis: options.idleTimeoutMillis ?? 10_000,
    statement_timeout: options.statementTimeoutMillis,
    // Bounds a query on a connection that silently stopped answering (a network drop), which the connect timeout
    // does not cover.
    query_timeout: queryTimeout,
    application_name: options.applicationName,
    // Detects connections silently dropped by the network instead of letting them sit in the pool for hours.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  // A server-side termination (57P01) can arrive while a checked-out connection has no error listener yet (between
  // pg-pool handing it out and the adapter subscribing), which would crash the process: every connection gets one
  // from its creation. The query in flight still fails, and is answered 503.
  const onConnectionError = (error: Error) => options.onConnectionError?.(error);
  pool.on('connect', (client) => {
    client.on('error', onConnectionError);
  });
  pool.on('error', onConnectionError);
  const adapter = new PrismaPg(pool, { disposeExternalPool: true });
  const client = new PrismaClient({ adapter, log: options.log });
  pools.set(client, pool);
  // Prisma disposes of the pool only if it connected; queries straight on the pool (pgPoolOf) may have been the only
  // ones, and their idle connections would keep the process up for idleTimeoutMillis after closing.
  const disconnect = client.$disconnect.bind(client);
  Object.defineProperty(client, '$disconnect', {
    value: async () => {
      await disconnect();
      if (!pool.ended) await pool.end();
    },
  });
  return client;
}

const pools = new WeakMap<PrismaClient, pg.Pool>();

/**
 * The `pg` pool under a client of {@link createPrismaClient} (the same connections, timeouts and connection-error
 * handling; its errors are classified by {@link isDatabaseUnavailableError} too), for the few hot statements where
 * Prisma's own work per query matters; undefined for any other client. Closed with the client.
 */
export function pgPoolOf(client: PrismaClient): pg.Pool | undefined {
  return pools.get(client);
}

/** A hot statement under a name of its own (see {@link queryNamed}). */
export interface NamedStatement {
  /**
   * Unique per text. Version it with the result shape (`…/1`): a name reused for a changed statement fails on
   * connections that prepared the old one ("cached plan must not change result type") until they close.
   */
  name: string;
  /** SQL with `$1`-style parameters. */
  text: string;
  values: readonly unknown[];
}

/**
 * Runs a hot statement as a named (protocol-level) prepared statement straight on the pool when the client has one
 * ({@link pgPoolOf}: always, in the services): each connection parses and plans it once, and Prisma's own work per
 * query (tens of microseconds of CPU) is skipped. Any other client runs the same text and values through Prisma.
 * Through PgBouncer this needs transaction pooling with `max_prepared_statements` > 0 (1.21+).
 */
export async function queryNamed<Row>(db: PrismaClient, statement: NamedStatement): Promise<Row[]> {
  const pool = pgPoolOf(db);
  if (pool === undefined) return db.$queryRawUnsafe<Row[]>(statement.text, ...statement.values);
  const { name, text, values } = statement;
  return (await pool.query<Row & pg.QueryResultRow>({ name, text, values: values as unknown[] })).rows;
}
