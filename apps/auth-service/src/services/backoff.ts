import { Prisma, type PrismaClient, queryNamed, type User } from '@mxp/db';
import {
  type BackoffGate,
  type BackoffPolicy,
  clearBackoff,
  gateOfReservation,
  type PendingLock,
  type ReservationRow,
  reservationStatement,
  storedBackoffKey,
} from '@mxp/db/backoff';
import { backoffPolicyOf } from '@mxp/service-kit';
import type { AuthServiceConfig } from '../config.js';
import { type CredentialsCheck, checkPassword, USER_COLUMNS, type UserRow, userOfRow } from './credentials.js';
import { normalizeIdentifier } from './identifiers.js';
import type { PasswordHashParams } from './passwords.js';

export type { BackoffGate, BackoffPolicy, PendingLock } from '@mxp/db/backoff';

/** The brute-force backoff of `/auth/verify` and `/auth/login` (`BACKOFF_*`). */
export function backoffPolicy(config: AuthServiceConfig): BackoffPolicy {
  return backoffPolicyOf(config);
}

/**
 * The backoff key of a presented username or email: the account's (`user:<id>`) when one matches, so its username
 * and its email share one counter; otherwise the identifier itself (`name:<lower-cased>`), so an unknown identifier
 * is throttled exactly like an account and the answers reveal nothing about which identifiers exist.
 */
function backoffKeyOf(identifier: string, user: Pick<User, 'id'> | null): string {
  return user ? `user:${user.id}` : unknownIdentifierKey(identifier);
}

function unknownIdentifierKey(identifier: string): string {
  return `name:${normalizeIdentifier(identifier)}`;
}

/** Named, as the service's other pool statements (see refresh.ts); its text depends on nothing but its shape. */
const RESERVE_BY_IDENTIFIER_STATEMENT = 'auth.credential_backoff.reserve_by_identifier/1';

/**
 * Looks up the user a username or email names (matched as stored: lower-cased and trimmed) and counts a sign-in
 * attempt under its backoff key ({@link backoffKeyOf}) before the password is checked, unless the key is locked: one
 * statement, hence one round trip per sign-in where the lookup and the count used to take two, from a process whose
 * CPU the password hashes need. Both parts read one snapshot.
 */
export async function reserveSignInByIdentifier(
  db: PrismaClient,
  identifier: string,
  policy: BackoffPolicy,
  now: Date = new Date(),
): Promise<{ user: User | null; key: string; gate: BackoffGate }> {
  const normalized = normalizeIdentifier(identifier);
  // 'user:' || a UUID is short and holds no U+0000: already a stored key.
  const key = Prisma.sql`COALESCE((SELECT 'user:' || found.id FROM found), ${storedBackoffKey(unknownIdentifierKey(identifier))})`;
  const statement = Prisma.sql`
    WITH found AS (
      SELECT ${Prisma.raw(USER_COLUMNS)} FROM auth.users WHERE username = ${normalized} OR email = ${normalized} LIMIT 1
    ), reservation AS (${reservationStatement('auth.credential_backoff', key, policy, now)})
    SELECT reservation.refused, reservation.lock_count, reservation.locked_until, found.*
      FROM reservation LEFT JOIN found ON TRUE`;
  // `found`'s columns are all null when no user matched.
  type Row = ReservationRow & (UserRow | { [column in keyof UserRow]: null });
  const [row] = await queryNamed<Row>(db, {
    name: RESERVE_BY_IDENTIFIER_STATEMENT,
    text: statement.text,
    values: statement.values,
  });
  if (!row) throw new Error('the backoff reservation returned no row');
  const user = row.id === null ? null : userOfRow(row);
  return { user, key: backoffKeyOf(identifier, user), gate: gateOfReservation(row, policy, now) };
}

/** Forgets the failures and locks of `key` after a successful sign-in. */
export function clearSignInFailures(db: PrismaClient, key: string): Promise<void> {
  return clearBackoff(db, 'auth.credential_backoff', key);
}

export type GuardedCredentialsCheck =
  | {
      ok: true;
      user: User;
      /** The account's backoff key: its failures are already forgotten unless `clearOnSuccess` was false. */
      backoffKey: string;
    }
  | {
      ok: false;
      /** `locked`: refused without regard to the password, because the account (or identifier) is locked. */
      reason: Extract<CredentialsCheck, { ok: false }>['reason'] | 'locked';
      user: User | null;
      /** Set when this failure started a lock (an audit event). */
      lockStarted?: PendingLock | undefined;
    };

export interface CredentialsBackoff {
  policy: BackoffPolicy;
  passwordHashParams: PasswordHashParams;
  dummyPasswordHash: string;
}

/**
 * The password check ({@link checkPassword}) behind the brute-force backoff. The attempt is counted before the
 * password is checked, so concurrent guesses cannot overrun the limit. While the account is locked the answer is a
 * failure whatever the password, yet the same lookup and argon2 verification are still made (their outcome ignored,
 * no hash upgrade), so a lock is visible neither in the answer nor in its timing. The user is looked up once, by the
 * statement that counts the attempt ({@link reserveSignInByIdentifier}), for both the backoff key and the check.
 *
 * A success forgets the account's failures, unless `clearOnSuccess` is false: then the caller forgets them with
 * what it writes next (a login, in `openSession`'s transaction), and a success it does not complete stays counted.
 */
export async function checkCredentialsWithBackoff(
  db: PrismaClient,
  identifier: string,
  password: string,
  settings: CredentialsBackoff,
  now: Date = new Date(),
  { clearOnSuccess = true }: { clearOnSuccess?: boolean } = {},
): Promise<GuardedCredentialsCheck> {
  const { user, key, gate } = await reserveSignInByIdentifier(db, identifier, settings.policy, now);
  const check = await checkPassword(db, user, password, settings.passwordHashParams, settings.dummyPasswordHash, {
    upgradeHash: gate.allowed,
  });
  if (!gate.allowed) return { ok: false, reason: 'locked', user: check.user };
  if (!check.ok) return { ...check, lockStarted: gate.lock };
  if (clearOnSuccess) await clearSignInFailures(db, key);
  return { ...check, backoffKey: key };
}
