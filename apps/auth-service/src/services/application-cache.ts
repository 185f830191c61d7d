import type { Application, PrismaClient } from '@mxp/db';
import { type ChangeFeed, NotifiedCache } from '@mxp/db/change-feed';
import { SESSION_CACHE_CHANNELS } from './session-cache.js';

// Every login names its application, and applications change rarely (an operator's edit straight in the database):
// they are cached per replica and dropped when PostgreSQL notifies a change to them, on the session cache's feed,
// which serves them only while it vouches that no notification can have been missed (else every login reads the row,
// as before). A disabled application is then refused by every replica as exactly as validation refuses its sessions.

/** Options of {@link ApplicationCache}. */
export interface ApplicationCacheOptions {
  /** 0 turns caching off: every lookup reads the database. */
  maxEntries: number;
  maxAgeMs: number;
}

/**
 * Applications by id, whatever their status (a disabled one is answered from memory too), exact as long as the owner
 * forwards the feed's notifications ({@link onNotification}). Unknown ids are never cached, so ids made up by a caller
 * cannot evict real applications.
 */
export class ApplicationCache {
  readonly #db: PrismaClient;
  readonly #cache: NotifiedCache<Application>;
  /** Lookups that read the database (for tests). */
  readonly stats = { loads: 0 };

  constructor(db: PrismaClient, feed: ChangeFeed, options: ApplicationCacheOptions) {
    this.#db = db;
    this.#cache = new NotifiedCache(feed, options);
  }

  /** The application, from memory when the feed vouches for it, else from the database; `null` when none has `id`. */
  async find(id: string): Promise<Application | null> {
    const application = await this.#cache.getOrLoad(id, async () => {
      this.stats.loads++;
      return (await this.#db.application.findUnique({ where: { id } })) ?? undefined;
    });
    return application ?? null;
  }

  /** Acts on a notification of the change feed (its payload is the changed row's id). */
  onNotification(channel: string, payload: string): void {
    switch (channel) {
      case SESSION_CACHE_CHANNELS.applications:
        this.#cache.delete(payload);
        break;
      case SESSION_CACHE_CHANNELS.sessions:
      case SESSION_CACHE_CHANNELS.users:
        break;
      default:
        this.#cache.clear();
    }
  }

  /** Applications held in memory. */
  get size(): number {
    return this.#cache.size;
  }
}
