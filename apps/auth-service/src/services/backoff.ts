import type { PrismaClient, User } from '@mxp/db';
import { type BackoffGate, type BackoffPolicy, clearBackoff, type PendingLock, reserveAttempt } from '@mxp/db/backoff';
import { backoffPolicyOf } from '@mxp/service-kit';
import type { AuthServiceConfig } from '../config.js';
import { type CredentialsCheck, checkPassword, findUserByIdentifier } from './credentials.js';
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
export async function accountBackoffKey(db: PrismaClient, identifier: string): Promise<string> {
  return backoffKeyOf(identifier, await findUserByIdentifier(db, identifier));
}

/** {@link accountBackoffKey} of an identifier whose user (`null`: none) was already looked up. */
function backoffKeyOf(identifier: string, user: Pick<User, 'id'> | null): string {
  return user ? `user:${user.id}` : `name:${normalizeIdentifier(identifier)}`;
}

/** Counts a sign-in attempt of `key` before its password is checked, unless the key is locked. */
export function reserveSignIn(
  db: PrismaClient,
  key: string,
  policy: BackoffPolicy,
  now: Date = new Date(),
): Promise<BackoffGate> {
  return reserveAttempt(db, 'auth.credential_backoff', key, policy, now);
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
 * no hash upgrade), so a lock is visible neither in the answer nor in its timing. The user is looked up once, before
 * the attempt is counted, for both the backoff key and the check.
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
  const user = await findUserByIdentifier(db, identifier);
  const key = backoffKeyOf(identifier, user);
  const gate = await reserveSignIn(db, key, settings.policy, now);
  const check = await checkPassword(db, user, password, settings.passwordHashParams, settings.dummyPasswordHash, {
    upgradeHash: gate.allowed,
  });
  if (!gate.allowed) return { ok: false, reason: 'locked', user: check.user };
  if (!check.ok) return { ...check, lockStarted: gate.lock };
  if (clearOnSuccess) await clearSignInFailures(db, key);
  return { ...check, backoffKey: key };
}
