import type { ApiClient, PrismaClient } from '@mxp/db';
import { hashClientSecret, secretHashesEqual } from './client-secrets.js';

/** Why a client failed to authenticate: recorded in the audit trail, never told to the caller. */
export type ClientAuthenticationFailure = 'unknown_client' | 'bad_secret' | 'disabled_client';

export type ClientAuthentication =
  | { ok: true; client: ApiClient; usedPreviousSecret: boolean }
  | { ok: false; reason: ClientAuthenticationFailure };

// Compared against when there is no stored hash, so every path does the same work.
const PLACEHOLDER_HASH = `hmac-sha256$${'A'.repeat(43)}`;

/** Client ids are printable ASCII; anything else (control characters included) names no client. */
export const LOOKUPABLE_CLIENT_ID = /^[\x21-\x7E]{1,200}$/;

/** The client a presented id names, or null (an id no client can have is not looked up). */
export function findClient(db: PrismaClient, clientId: string): Promise<ApiClient | null> {
  return LOOKUPABLE_CLIENT_ID.test(clientId)
    ? db.apiClient.findUnique({ where: { id: clientId } })
    : Promise.resolve(null);
}

/**
 * Checks a presented secret (its {@link hashClientSecret} form) against a client row, or against nothing for an
 * unknown client: the current secret, or the previous one while its rotation grace lasts. Unknown client, wrong secret
 * and disabled client do the same work (one HMAC by the caller, two constant-time comparisons here) so that neither
 * the answer nor its timing tells them apart. No I/O: a cached row is checked exactly as a fresh one.
 */
export function checkClientSecret(
  client: ApiClient | null,
  presentedHash: string,
  now: Date = new Date(),
): ClientAuthentication {
  const previousValid =
    client?.previousSecretHash != null &&
    client.previousSecretExpiresAt != null &&
    client.previousSecretExpiresAt.getTime() > now.getTime();
  const matchesCurrent = secretHashesEqual(presentedHash, client?.secretHash ?? PLACEHOLDER_HASH);
  const matchesPrevious = secretHashesEqual(
    presentedHash,
    previousValid ? (client.previousSecretHash ?? PLACEHOLDER_HASH) : PLACEHOLDER_HASH,
  );
  if (!client) return { ok: false, reason: 'unknown_client' };
  if (!matchesCurrent && !(previousValid && matchesPrevious)) return { ok: false, reason: 'bad_secret' };
  if (client.status !== 'active') return { ok: false, reason: 'disabled_client' };
  return { ok: true, client, usedPreviousSecret: !matchesCurrent };
}

/** Checks a client's credentials against the database: one lookup, then {@link checkClientSecret}. */
export async function authenticateClient(
  db: PrismaClient,
  pepper: string,
  clientId: string,
  clientSecret: string,
  now: Date = new Date(),
): Promise<ClientAuthentication> {
  const client = await findClient(db, clientId);
  return checkClientSecret(client, hashClientSecret(clientSecret, pepper), now);
}
