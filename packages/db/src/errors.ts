// Recognising "the database is not there" lets services answer 503 (retry later) rather than 500 (our bug).

// Prisma's codes: can't reach the server (P1001), timed out reaching it (P1002), socket timeout (P1008), server
// closed the connection (P1017), timed out waiting for a pool connection (P2024), too many connections (P2037).
const UNAVAILABLE_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2037']);

// Driver adapter error kinds that @prisma/adapter-pg reports for the same situations.
const UNAVAILABLE_ADAPTER_KINDS = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
]);

// Node socket errors raised by `pg` when the server is down, unreachable or drops the connection.
const UNAVAILABLE_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

// SQLSTATEs: class 08 (connection exception), too_many_connections, and the server shutting down or starting up.
const UNAVAILABLE_SQLSTATES = new Set(['53300', '57P01', '57P02', '57P03']);

// `pg` raises these as plain Errors without a code.
const UNAVAILABLE_PG_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'Client has encountered a connection error and is not queryable',
  'Cannot use a pool after calling end on the pool',
];

/** Tells whether an error means the database cannot be reached (answer 503), as opposed to a failing query. */
export function isDatabaseUnavailableError(err: unknown): boolean {
  return isUnavailable(err, 0);
}

function isUnavailable(err: unknown, depth: number): boolean {
  if (depth > 8 || typeof err !== 'object' || err === null) return false;
  const e = err as Record<string, unknown>;
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code !== undefined) {
    if (UNAVAILABLE_PRISMA_CODES.has(code) || UNAVAILABLE_SOCKET_CODES.has(code)) return true;
    if (code.startsWith('08') && code.length === 5) return true;
    if (UNAVAILABLE_SQLSTATES.has(code)) return true;
  }
  // PrismaClientInitializationError carries its code as `errorCode`.
  if (typeof e.errorCode === 'string' && UNAVAILABLE_PRISMA_CODES.has(e.errorCode)) return true;
  if (e.name === 'DriverAdapterError') {
    const kind = (e.cause as { kind?: unknown } | undefined)?.kind;
    if (typeof kind === 'string' && UNAVAILABLE_ADAPTER_KINDS.has(kind)) return true;
  }
  if (typeof e.message === 'string' && code === undefined) {
    const message = e.message;
    if (UNAVAILABLE_PG_MESSAGES.some((m) => message.includes(m))) return true;
  }
  const meta = e.meta as { driverAdapterError?: unknown } | undefined;
  if (meta?.driverAdapterError !== undefined && isUnavailable(meta.driverAdapterError, depth + 1)) return true;
  // Connecting to `localhost` tries every address and reports an AggregateError of ECONNREFUSED.
  if (Array.isArray(e.errors) && e.errors.some((inner) => isUnavailable(inner, depth + 1))) return true;
  return e.cause !== undefined && e.cause !== err && isUnavailable(e.cause, depth + 1);
}
