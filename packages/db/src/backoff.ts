import { Prisma, type PrismaClient } from './generated/prisma/client.js';
import { queryNamed } from './index.js';

// Brute-force backoff shared by both services: one implementation, one table per service schema.

/**
 * The backoff policy shared by both services (Keycloak's brute-force detection, OWASP ASVS 5.0 V6.3): every
 * `maxFailures` consecutive failed authentications of one key start a lock of `baseSeconds`, doubled for each further
 * lock up to `maxSeconds`; a success forgets everything, and so does `resetSeconds` without a failure or a lock.
 *
 * The state is a row per key in PostgreSQL, so every replica sees the same counters, and each attempt is counted by
 * one atomic upsert *before* the credentials are checked: of any number of concurrent attempts on an unlocked key,
 * exactly the ones that fit under the limit are let through, and the rest are refused as locked.
 */
export interface BackoffPolicy {
  /** Consecutive failures that start a lock (Keycloak's "failure factor"). */
  maxFailures: number;
  /** Length of the first lock; each further lock lasts twice as long (Keycloak's "wait increment"). */
  baseSeconds: number;
  /** Longest lock (Keycloak's "max wait"): a lock always ends. */
  maxSeconds: number;
  /** Failures and past locks are forgotten after this long without a failure or a lock ("failure reset time"). */
  resetSeconds: number;
}

/** The tables holding backoff state, one per service schema (see `prisma/schema.prisma`). */
export type BackoffTable = 'auth.credential_backoff' | 'otherclient.client_backoff';

const TABLES: Record<BackoffTable, Prisma.Sql> = {
  'auth.credential_backoff': Prisma.raw('"auth"."credential_backoff"'),
  'otherclient.client_backoff': Prisma.raw('"otherclient"."client_backoff"'),
};

/** Names of the prepared statement of {@link reserveAttempt}, per table (a name stands for one text). */
const RESERVE_STATEMENTS: Record<BackoffTable, string> = {
  'auth.credential_backoff': 'auth.credential_backoff.reserve/1',
  'otherclient.client_backoff': 'otherclient.client_backoff.reserve/1',
};

/** Keys are bounded and hold no U+0000 (which PostgreSQL text cannot store). */
export const BACKOFF_KEY_MAX_LENGTH = 400;

/** How long the lock that follows `previousLocks` earlier locks lasts, in seconds. */
export function lockSeconds(policy: BackoffPolicy, previousLocks: number): number {
  return Math.min(policy.maxSeconds, policy.baseSeconds * 2 ** Math.min(Math.max(previousLocks, 0), 40));
}

/** The lock that starts if the attempt let through fails (it is already in place while the attempt runs). */
export interface PendingLock {
  until: Date;
  seconds: number;
  /** Locks of this key since its counters were last forgotten, this one included. */
  count: number;
}

export type BackoffGate =
  /** The key is locked: refuse the attempt with the ordinary failure, whatever the credentials. */
  | { allowed: false }
  /**
   * The attempt is counted and may proceed. On success call {@link clearBackoff}; on failure there is nothing more
   * to write, but when `lock` is set this failure is the one that starts a lock (an audit event).
   */
  | { allowed: true; lock: PendingLock | undefined };

/** The columns {@link reservationStatement} returns. */
export interface ReservationRow {
  refused: number;
  lock_count: number;
  locked_until: Date | null;
}

/**
 * Counts an attempt for `key` unless it is locked. The attempt is counted as a failure in advance (a success then
 * clears the row), so concurrent attempts from any number of replicas cannot overrun the limit.
 */
export async function reserveAttempt(
  db: PrismaClient,
  table: BackoffTable,
  key: string,
  policy: BackoffPolicy,
  now: Date = new Date(),
): Promise<BackoffGate> {
  const upsert = reservationStatement(table, Prisma.sql`${storedBackoffKey(key)}`, policy, now);
  // Every sign-in makes this write, and Prisma's own work per query is CPU taken from the password hashes that share
  // the machine. Its text depends on the table alone (every other part is a parameter), hence one name per table.
  const [row] = await queryNamed<ReservationRow>(db, {
    name: RESERVE_STATEMENTS[table],
    text: upsert.text,
    values: upsert.values,
  });
  if (!row) throw new Error('the backoff upsert returned no row');
  return gateOfReservation(row, policy, now);
}

/**
 * The upsert of {@link reserveAttempt} with its key given as SQL (a parameter, or an expression such as a lookup made
 * by the same statement, which must yield a key as {@link storedBackoffKey} makes it), for a caller that composes it
 * into a statement of its own: it returns `refused`, `lock_count` and `locked_until`, which
 * {@link gateOfReservation} reads.
 */
export function reservationStatement(
  table: BackoffTable,
  storedKey: Prisma.Sql,
  policy: BackoffPolicy,
  now: Date,
): Prisma.Sql {
  const target = TABLES[table];
  const staleBefore = new Date(now.getTime() - policy.resetSeconds * 1000);
  // Every expression of the update reads the row as it was before it (PostgreSQL evaluates SET against the old row).
  const locked = Prisma.sql`(b.locked_until IS NOT NULL AND b.locked_until > ${now}::timestamptz)`;
  const stale = Prisma.sql`GREATEST(b.last_failure_at, COALESCE(b.locked_until, b.last_failure_at)) <= ${staleBefore}::timestamptz`;
  const previousFailures = Prisma.sql`(CASE WHEN ${stale} THEN 0 ELSE b.failures END)`;
  const previousLocks = Prisma.sql`(CASE WHEN ${stale} THEN 0 ELSE b.lock_count END)`;
  const locks = Prisma.sql`(${previousFailures} + 1 >= ${policy.maxFailures}::int)`;
  const lockLength = Prisma.sql`LEAST(${policy.maxSeconds}::float8, ${policy.baseSeconds}::float8 * power(2::float8, LEAST(${previousLocks}, 40)))`;
  // A first failure locks at once only when the limit is 1.
  const firstLocks = policy.maxFailures <= 1;
  const firstLockedUntil = firstLocks ? new Date(now.getTime() + lockSeconds(policy, 0) * 1000) : null;

  // A refused attempt writes too (it only counts itself in `refused`): a locked key then costs the same writes and
  // commits as an unlocked one, so the lock does not show in the timing of the answer.
  return Prisma.sql`
    INSERT INTO ${target} AS b (key, failures, lock_count, last_failure_at, locked_until, refused)
    VALUES (${storedKey}, ${firstLocks ? 0 : 1}::int, ${firstLocks ? 1 : 0}::int, ${now}::timestamptz,
            ${firstLockedUntil}::timestamptz, 0)
    ON CONFLICT (key) DO UPDATE SET
      refused = CASE WHEN ${locked} THEN b.refused + 1 ELSE 0 END,
      failures = CASE WHEN ${locked} THEN b.failures WHEN ${locks} THEN 0 ELSE ${previousFailures} + 1 END,
      lock_count = CASE
        WHEN ${locked} THEN b.lock_count
        ELSE ${previousLocks} + CASE WHEN ${locks} THEN 1 ELSE 0 END
      END,
      last_failure_at = CASE WHEN ${locked} THEN b.last_failure_at ELSE ${now}::timestamptz END,
      locked_until = CASE
        WHEN ${locked} THEN b.locked_until
        WHEN ${locks} THEN ${now}::timestamptz + make_interval(secs => ${lockLength})
        WHEN ${stale} THEN NULL
        ELSE b.locked_until
      END
    RETURNING refused, lock_count, locked_until`;
}

/** What the row returned by {@link reservationStatement} means for the attempt made at `now`. */
export function gateOfReservation(row: ReservationRow, policy: BackoffPolicy, now: Date): BackoffGate {
  // Only a refused attempt leaves `refused` above zero (a counted one resets it).
  if (row.refused > 0) return { allowed: false };
  // No lock in the future: this attempt did not start one (an ended lock may still be recorded).
  if (row.locked_until === null || row.locked_until.getTime() <= now.getTime()) {
    return { allowed: true, lock: undefined };
  }
  return {
    allowed: true,
    lock: { until: row.locked_until, seconds: lockSeconds(policy, row.lock_count - 1), count: row.lock_count },
  };
}

/** Forgets every failure and lock of `key`: after a successful authentication. */
export async function clearBackoff(db: PrismaClient, table: BackoffTable, key: string): Promise<void> {
  await db.$executeRaw`DELETE FROM ${TABLES[table]} WHERE key = ${storedBackoffKey(key)}`;
}

/**
 * Forgets the failures of `key` after a successful authentication that was not counted in advance, unless `key` is
 * locked at `now`: then nothing changes, and the attempt must be refused like any other during a lock. Counting a
 * success in advance and clearing it after ({@link reserveAttempt}, {@link clearBackoff}) makes the concurrent
 * successes of a busy client look like failures to each other, enough of them to lock it; this counts nothing.
 */
export async function clearUnlessLocked(
  db: PrismaClient,
  table: BackoffTable,
  key: string,
  now: Date = new Date(),
): Promise<'cleared' | 'locked'> {
  const target = TABLES[table];
  const storedKey = storedBackoffKey(key);
  // Both parts read the same snapshot; the DELETE re-checks the lock on the row as last committed.
  const rows = await db.$queryRaw<Array<{ locked: boolean }>>`
    WITH cleared AS (
      DELETE FROM ${target} AS b
      WHERE b.key = ${storedKey} AND (b.locked_until IS NULL OR b.locked_until <= ${now}::timestamptz)
      RETURNING b.key
    )
    SELECT EXISTS (
      SELECT 1 FROM ${target} AS b WHERE b.key = ${storedKey} AND b.locked_until > ${now}::timestamptz
    ) AS locked`;
  return rows[0]?.locked ? 'locked' : 'cleared';
}

/**
 * The key as its row stores it (bounded, U+0000 replaced): for writes of a backoff row made outside this module, such
 * as the clearing inside `auth.open_session`.
 */
export function storedBackoffKey(key: string): string {
  return key.slice(0, BACKOFF_KEY_MAX_LENGTH).replaceAll('\u0000', '\uFFFD');
}

/**
 * Deletes the rows of `table` that {@link reserveAttempt} would treat as forgotten at `now` (no failure and no lock
 * for `resetSeconds`): such a row behaves exactly as no row, so removing it changes no answer. Walks the table in key
 * order, `batchSize` keys per autocommitted statement (short row locks only, each key visited once); a row written
 * again meanwhile is re-checked by the DELETE and kept. Returns how many rows were deleted.
 */
export async function pruneStaleBackoff(
  db: PrismaClient,
  table: BackoffTable,
  resetSeconds: number,
  batchSize: number,
  now: Date = new Date(),
): Promise<number> {
  const target = TABLES[table];
  const staleBefore = new Date(now.getTime() - resetSeconds * 1000);
  let after: string | null = null;
  let deleted = 0;
  for (;;) {
    const rows: Array<{ last_key: string | null; deleted: number }> = await db.$queryRaw`
      WITH candidates AS (
        SELECT key FROM ${target} WHERE ${after}::text IS NULL OR key > ${after}::text ORDER BY key LIMIT ${batchSize}::int
      ), gone AS (
        DELETE FROM ${target} AS b USING candidates c
        WHERE b.key = c.key
          AND GREATEST(b.last_failure_at, COALESCE(b.locked_until, b.last_failure_at)) <= ${staleBefore}::timestamptz
        RETURNING 1
      )
      SELECT (SELECT max(key) FROM candidates) AS last_key, (SELECT count(*) FROM gone)::int AS deleted`;
    const row = rows[0];
    deleted += row?.deleted ?? 0;
    if (!row || row.last_key === null) return deleted;
    after = row.last_key;
  }
}
