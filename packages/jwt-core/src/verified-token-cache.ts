import { hash } from 'node:crypto';

/**
 * Claims of tokens whose signature and claims were verified, by SHA-256 of the whole token: a token presented again
 * costs a hash instead of a signature verification. Only successful verifications are kept, each until its `exp`.
 *
 * A hit answers what verifying again would only if nothing the verification depended on has changed since: the key
 * set must be fixed for the cache's life (a service's own keys, loaded once), and a check whose expectation varies
 * between calls (an audience read from the database, say) must be made again by the caller on every hit. Bounded: the
 * oldest entries go first.
 */
export class VerifiedTokenCache<Claims extends { exp: number }> {
  readonly #maxEntries: number;
  // A Map iterates in insertion order, which makes it a FIFO without a library: the entry verified first goes first.
  readonly #entries = new Map<string, Claims>();

  /** `maxEntries` 0 keeps nothing: every token is verified every time. */
  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  /** The token's claims: from memory if it was verified before and has not expired at `now`, else `verify()`'s. */
  async verify(token: string, now: Date, verify: () => Promise<Claims>): Promise<Claims> {
    const cached = this.get(token, now);
    if (cached !== undefined) return cached;
    const claims = await verify();
    this.set(token, claims);
    return claims;
  }

  /** The claims of the token if it was verified before and has not expired at `now` (synchronous). */
  get(token: string, now: Date): Claims | undefined {
    if (this.#maxEntries === 0) return undefined;
    const key = keyOf(token);
    const cached = this.#entries.get(key);
    if (cached === undefined) return undefined;
    // As jose decides: expired once `exp` is at or before the current whole second.
    if (cached.exp > Math.floor(now.getTime() / 1000)) return cached;
    this.#entries.delete(key);
    return undefined;
  }

  /** Remembers the claims of a token just verified (only ever those of a successful verification). */
  set(token: string, claims: Claims): void {
    if (this.#maxEntries === 0) return;
    const key = keyOf(token);
    this.#entries.delete(key);
    // Every hit hands out this object: frozen, so no caller can change what the next one is answered.
    this.#entries.set(key, Object.freeze(claims));
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
  }

  /** Tokens held in memory. */
  get size(): number {
    return this.#entries.size;
  }
}

// One-shot hashing (no Hash object): a third of createHash's cost, on every call.
function keyOf(token: string): string {
  return hash('sha256', token, 'base64url');
}
