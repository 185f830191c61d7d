import type { PrismaClient } from '@mxp/db';
import { type BackoffGate, type BackoffPolicy, clearBackoff, type PendingLock, reserveAttempt } from '@mxp/db/backoff';
import { backoffPolicyOf } from '@mxp/service-kit';
import type { OtherclientConfig } from '../config.js';
import {
  authenticateClient,
  type ClientAuthentication,
  type ClientAuthenticationFailure,
} from './client-authentication.js';

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
 * Counts an authentication attempt of a client id (known or not) before its secret is checked, unless the id is
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

/** Forgets the failures and locks of a client id after a successful authentication. */
export function clearClientFailures(db: PrismaClient, clientId: string): Promise<void> {
  return clearBackoff(db, 'otherclient.client_backoff', clientBackoffKey(clientId));
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
 * {@link authenticateClient} behind the brute-force backoff. The attempt is counted before the secret is checked, so
 * concurrent guesses cannot overrun the limit. While the id is locked the answer is a failure whatever the secret,
 * yet the same lookup and hash comparisons are still made (they have no side effects), so a lock is visible neither in
 * the answer nor in its timing. A success forgets the id's failures.
 */
export async function authenticateClientWithBackoff(
  db: PrismaClient,
  pepper: string,
  policy: BackoffPolicy,
  clientId: string,
  clientSecret: string,
  now: Date = new Date(),
): Promise<GuardedClientAuthentication> {
  const gate = await reserveClientAttempt(db, clientId, policy, now);
  const authentication = await authenticateClient(db, pepper, clientId, clientSecret, now);
  if (!gate.allowed) return { ok: false, reason: 'locked' };
  if (!authentication.ok) return { ...authentication, lockStarted: gate.lock };
  await clearClientFailures(db, clientId);
  return authentication;
}
