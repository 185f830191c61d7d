import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';

// Client secrets are machine-generated with 122 random bits, so a slow password hash adds nothing against
// guessing; what matters is that a stolen database alone cannot be used to check guesses offline, which the
// server-side pepper (never stored in the database) gives. One HMAC costs microseconds, so verification never
// caps token throughput (argon2/bcrypt per request held Ory Hydra to ~540 grants/s on two CPUs).
const SCHEME = 'hmac-sha256';

/** A new client secret: a random UUID (122 random bits), the format the specification shows. */
export function generateClientSecret(): string {
  return randomUUID();
}

/** The stored form of a secret: `hmac-sha256$<base64url HMAC-SHA256(pepper, secret)>`. */
export function hashClientSecret(secret: string, pepper: string): string {
  return `${SCHEME}$${createHmac('sha256', pepper).update(secret, 'utf8').digest('base64url')}`;
}

/** Whether two stored-form hashes are equal, compared in constant time. */
export function secretHashesEqual(presented: string, stored: string): boolean {
  const a = Buffer.from(presented, 'utf8');
  const b = Buffer.from(stored, 'utf8');
  // Comparing against itself keeps the work the same when the lengths differ.
  return a.length === b.length ? timingSafeEqual(a, b) : !timingSafeEqual(a, a);
}

/** Whether `secret` is the one behind `storedHash`, compared in constant time. */
export function clientSecretMatches(secret: string, storedHash: string, pepper: string): boolean {
  return secretHashesEqual(hashClientSecret(secret, pepper), storedHash);
}
