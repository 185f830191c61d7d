import type { PrismaClient } from '@mxp/db';
import {
  type BackoffGate,
  type BackoffPolicy,
  clearBackoff,
  clearUnlessLocked,
  type PendingLock,
  reserveAttempt,
} from '@mxp/db/backoff';
import { backoffPolicyOf } from '@mxp/service-kit';
import type { OtherclientConfig } from '../config.js';
import {
  type ClientAuthentication,
  type ClientAuthenticationFailure,
  checkClientSecret,
} from './client-authentication.js';
import { ClientCache, type ClientState } from './client-cache.js';
import { hashClientSecret } from './client-secrets.js';

export type { BackoffGate, BackoffPolicy, PendingLock } from '@mxp/db/backoff';

/** The brute-force backoff of every endpoint that checks a client secret (`BACKOFF_*`). */
export function backoffPolicy(config: OtherclientConfig): BackoffPolicy {
  return backoffPolicyOf(config);
}

/** Client ids are exact (no case folding); a presented id is kept as presented, bounded as in the audit trail. */
export function clientBackoffKey(clientId: string): string {
  return clientId.slice(0, 200);
}

/**
 * Counts an authentication attempt of a client id (known or not) before its outcome is given, unless the id is
 * locked. Shared by `POST /api/auth/token` and the OAuth endpoints, so guesses cannot be spread across them.
 */
export function reserveClientAttempt(
  db: PrismaClient,
  clientId: string,
  policy: BackoffPolicy,
  now: Date = new Date(),
): Promise<BackoffGate> {
  return reserveAttempt(db, 'otherclient.client_backoff', clientBackoffKey(clientId), policy, now);
}

/** Forgets the failures and locks of a client id after a successful authentication counted in advance. */
export function clearClientFailures(db: PrismaClient, clientId: string): Promise<void> {
  return clearBackoff(db, 'otherclient.client_backoff', clientBackoffKey(clientId));
}

/** Forgets the failures of a client id after a successful authentication not counted in advance, unless it is locked. */
export function clearClientFailuresUnlessLocked(
  db: PrismaClient,
  clientId: string,
  now: Date = new Date(),
): Promise<'cleared' | 'locked'> {
  return clearUnlessLocked(db, 'otherclient.client_backoff', clientBackoffKey(clientId), now);
}

export type GuardedClientAuthentication =
  | Extract<ClientAuthentication, { ok: true }>
  | {
      ok: false;
      /** `locked`: refused without regard to the secret, because the client id is locked. */
      reason: ClientAuthenticationFailure | 'locked';
      /** Set when this failure started a lock (an audit event). */
      lockStarted?: PendingLock | undefined;
    };

/**
 * {@link checkClientSecret} behind the brute-force backoff (README, "Brute-force backoff"):
 *
 * - An active client with no backoff row presenting its right secret is let in without any write: from the cache
 *   when it holds the client (no database access at all), else after one read.
 * - Every other attempt reads the client and its backoff row from the database first, so that every refusal does
 *   the same work whether or not the id names a client, cached or not.
 * - A wrong secret, an unknown or disabled client, and any attempt on an id locked when read, is counted by the
 *   atomic upsert, whose verdict decides: concurrent wrong guesses are each counted, and of those on an unlocked id
 *   only the ones under the limit are checked; during a lock the answer is a failure whatever the secret, after the
 *   same read, upsert and comparisons, so the lock shows neither in the answer nor in its timing.
 * - A right secret on an id with failures but no lock forgets the failures (unless a lock began meanwhile: then it
 *   is refused and counted like any attempt during a lock).
 */
export async function authenticateClientWithBackoff(
  db: PrismaClient,
  pepper: string,
  policy: BackoffPolicy,
  clientId: string,
  clientSecret: string,
  now: Date = new Date(),
  clients: ClientCache = new ClientCache(db),
): Promise<GuardedClientAuthentication> {
  const presented = hashClientSecret(clientSecret, pepper);
  const settle = async ({ client, backoff }: ClientState): Promise<GuardedClientAuthentication> => {
    const check = checkClientSecret(client, presented, now);
    // Nothing to count or forget. The read is fresh, so an attempt answered before this request began (on any
    // replica) is seen; a concurrent one is simply ordered after this success.
    if (check.ok && backoff === null) return check;
    const lockedWhenRead = backoff?.lockedUntil != null && backoff.lockedUntil.getTime() > now.getTime();
    return clients.writingBackoff(clientId, async () => {
      if (check.ok && !lockedWhenRead && (await clearClientFailuresUnlessLocked(db, clientId, now)) === 'cleared') {
        return check;
      }
      const gate = await reserveClientAttempt(db, clientId, policy, now);
      if (!gate.allowed) return { ok: false, reason: 'locked' };
      if (!check.ok) return { ...check, lockStarted: gate.lock };
      // The lock seen by the read had ended by the count.
      await clearClientFailures(db, clientId);
      return check;
    });
  };
  const cached = clients.peek(clientId);
  if (cached === undefined) return settle(await clients.read(clientId));
  const check = checkClientSecret(cached, presented, now);
  if (check.ok) return check;
  // Refused on what this replica holds (a wrong secret, or the client changed since): it stops serving the client
  // from its cache at once, then decides on the database's state like any other attempt.
  return clients.writingBackoff(clientId, async () => settle(await clients.read(clientId)));
}
