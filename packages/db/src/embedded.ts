// PostgreSQL without a server install: PGlite (PostgreSQL compiled to WebAssembly) served on a local TCP port, so
// `pg` pools, Prisma and the WASM schema engine connect to it as to any PostgreSQL server.
import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Where the database files live (created when missing); in memory when omitted. */
  dataDir?: string;
  /** TCP port; 0 (the default) picks a free one, reported in `url`. */
  port?: number;
  /** Interface to listen on (default `127.0.0.1`). */
  host?: string;
  /** Most simultaneous client connections (default 64). */
  maxConnections?: number;
}

/** A running embedded server. */
export interface EmbeddedPostgres {
  /** Connection string of the server's only database, `postgres`. */
  url: string;
  /** Stops the server and closes the database (persisting it); close the clients first. */
  stop(): Promise<void>;
}

/**
 * Starts PGlite, persisted in `dataDir`, behind a PostgreSQL wire-protocol server on `host:port`.
 * PGlite is one backend session shared by every connection: queries are serialized, and session state (settings,
 * advisory locks, temporary tables) is shared. Only one process may open a given `dataDir`.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  if (options.dataDir !== undefined) await mkdir(options.dataDir, { recursive: true });
  const db = await PGlite.create(options.dataDir);
  const server = new PGLiteSocketServer({
    db,
    port: options.port ?? 0,
    host: options.host ?? '127.0.0.1',
    maxConnections: options.maxConnections ?? 64,
  });
  keepExtendedQueriesTogether(server);
  shareNamedStatements(server);
  try {
    await server.start();
  } catch (err) {
    await db.close();
    throw err;
  }
  const address = server.getServerConn();
  return {
    url: `postgresql://postgres@${address}/postgres`,
    stop: async () => {
      await server.stop();
      // Handlers detach asynchronously (rolling back an open transaction) and must not find the database closed.
      await new Promise((resolve) => setImmediate(resolve));
      await db.close();
    },
  };
}

type Enqueue = (handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void) => Promise<number>;

interface QueryQueue {
  enqueue: Enqueue;
  clearQueueForHandler: (handlerId: number) => void;
}

// Extended-protocol messages that a client sends as one unit ended by Sync: Parse, Bind, Describe, Execute, Close.
const EXTENDED_QUERY_MESSAGES = new Set(['P', 'B', 'D', 'E', 'C'].map((type) => type.charCodeAt(0)));

/**
 * Makes each connection's Parse/Bind/Describe/Execute/.../Sync sequence run as one unit.
 *
 * pglite-socket queues every protocol message of every connection on one queue. When a client's sequence arrives
 * in several TCP packets (large parameters), another connection's Parse can run between its Parse and Bind and
 * replace the unnamed prepared statement of the single PGlite session ("bind message supplies 2 parameters, but
 * prepared statement "" requires 3", measured with 2 MB parameters and a pool of 10). PGlite accepts several
 * messages in one buffer, so the sequence is held back until Sync and queued as one entry.
 */
function keepExtendedQueriesTogether(server: PGLiteSocketServer): void {
  // The queue is a private member of PGLiteSocketServer (pinned version 0.2.17).
  const queue = (server as unknown as { queryQueue?: QueryQueue }).queryQueue;
  if (typeof queue?.enqueue !== 'function' || typeof queue.clearQueueForHandler !== 'function') {
    throw new Error('Unsupported @electric-sql/pglite-socket version: its query queue was not found');
  }
  const enqueue = queue.enqueue.bind(queue);
  const clearQueueForHandler = queue.clearQueueForHandler.bind(queue);
  const pending = new Map<number, Uint8Array[]>();
  queue.enqueue = (handlerId, message, onData) => {
    const held = pending.get(handlerId);
    if (message[0] !== undefined && EXTENDED_QUERY_MESSAGES.has(message[0])) {
      if (held === undefined) pending.set(handlerId, [message]);
      else held.push(message);
      // Answers come later through `onData` of the message that ends the sequence, on the same socket.
      return Promise.resolve(0);
    }
    if (held === undefined) return enqueue(handlerId, message, onData);
    pending.delete(handlerId);
    return enqueue(handlerId, new Uint8Array(Buffer.concat([...held, message])), onData);
  };
  queue.clearQueueForHandler = (handlerId) => {
    pending.delete(handlerId);
    clearQueueForHandler(handlerId);
  };
}

const PARSE = 'P'.charCodeAt(0);

/**
 * Lets every connection prepare the same named statement. The services name their hot statements (`pool.query({
 * name, text })`), and each `pg` connection parses a name the first time it uses it. With PostgreSQL each connection
 * is a session of its own; with PGlite all of them share one, so the second connection to parse a name got
 * "prepared statement ... already exists" (42P05): concurrent logins, or any after the pool replaced an idle
 * connection, answered 500 in `pnpm dev`. A Parse of a name this session already holds is turned into a Parse of the
 * unnamed statement (same text: each name stands for one text), which answers the same ParseComplete; the Bind that
 * follows names the statement the session already has.
 */
function shareNamedStatements(server: PGLiteSocketServer): void {
  const queue = (server as unknown as { queryQueue?: QueryQueue }).queryQueue;
  if (typeof queue?.enqueue !== 'function') {
    throw new Error('Unsupported @electric-sql/pglite-socket version: its query queue was not found');
  }
  const enqueue = queue.enqueue.bind(queue);
  // Names are never deallocated: the services neither close nor DEALLOCATE their statements. A name is recorded at
  // its first Parse, before PGlite answers it: were that Parse to fail, the name would stay unusable until restart
  // (the services' statement texts are checked on PostgreSQL by their tests).
  const prepared = new Set<string>();
  queue.enqueue = (handlerId, message, onData) => {
    if (message[0] !== PARSE) return enqueue(handlerId, message, onData);
    // Parse: 'P', Int32 length (itself included), name\0, query\0, Int16 count, Int32 × count.
    const nameEnd = message.indexOf(0, 5);
    if (nameEnd <= 5) return enqueue(handlerId, message, onData);
    const name = Buffer.from(message.subarray(5, nameEnd)).toString('utf8');
    if (!prepared.has(name)) {
      prepared.add(name);
      return enqueue(handlerId, message, onData);
    }
    const unnamed = Buffer.concat([Buffer.from([PARSE, 0, 0, 0, 0, 0]), message.subarray(nameEnd + 1)]);
    unnamed.writeInt32BE(unnamed.length - 1, 1);
    return enqueue(handlerId, new Uint8Array(unnamed), onData);
  };
}
