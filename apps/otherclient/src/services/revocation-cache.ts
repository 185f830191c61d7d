import { type PrismaClient, queryNamed } from '@mxp/db';
import type { NotifiedCache } from '@mxp/db/change-feed';

/** PostgreSQL channel on which each revoked token's `jti` is notified (migration 20261121183000). */
export const REVOCATION_CHANNEL = 'mxp_otherclient_revocations';

/** What the cache holds of a `jti`. */
export interface RevocationState {
  revoked: boolean;
}

const REVOKED: RevocationState = Object.freeze({ revoked: true });
const NOT_REVOKED: RevocationState = Object.freeze({ revoked: false });

const REVOKED_STATEMENT = {
  name: 'otherclient.revoked_tokens.exists/1',
  text: 'SELECT 1 FROM otherclient.revoked_tokens WHERE jti = $1',
};

/**
 * Whether access tokens were revoked (RFC 7009), by `jti`. Introspection asks for every token it is shown, so the
 * answers (revoked or not) are cached while the change feed vouches for them, as clients are: a revocation made on
 * any replica drops its `jti` here when its notification arrives (milliseconds), one made by this process at once
 * ({@link invalidate} after its commit), and once the feed is down or late (its staleness bound, 3 s, at most) every
 * call reads the database.
 */
export class RevocationCache {
  readonly #db: PrismaClient;
  readonly #cache: NotifiedCache<RevocationState> | undefined;

  /** Without `cache` (no change feed: CLIENT_CACHE_MAX_ENTRIES=0) every call reads the database. */
  constructor(db: PrismaClient, cache?: NotifiedCache<RevocationState>) {
    this.#db = db;
    this.#cache = cache;
  }

  /** Whether the token `jti` was revoked, as of the last notification, or as the database says now. */
  async isRevoked(jti: string): Promise<boolean> {
    if (this.#cache === undefined) return readRevoked(this.#db, jti);
    // Synchronous first: a hit awaits no load.
    const held = this.#cache.get(jti);
    if (held !== undefined) return held.revoked;
    const loaded = await this.#cache.getOrLoad(jti, async () =>
      (await readRevoked(this.#db, jti)) ? REVOKED : NOT_REVOKED,
    );
    return loaded?.revoked === true;
  }

  /** Forgets what is held of `jti`: its revocation was notified, or this process has just committed one. */
  invalidate(jti: string): void {
    this.#cache?.delete(jti);
  }

  /** Entries held (for tests). */
  get size(): number {
    return this.#cache?.size ?? 0;
  }
}

/** The revocation list, read now: Prisma's own work for a `findUnique` took more CPU than the primary-key lookup. */
async function readRevoked(db: PrismaClient, jti: string): Promise<boolean> {
  return (await queryNamed(db, { ...REVOKED_STATEMENT, values: [jti] })).length !== 0;
}
