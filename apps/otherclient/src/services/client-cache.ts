import type { ApiClient, PrismaClient } from '@mxp/db';
import type { NotifiedCache } from '@mxp/db/change-feed';
import { findClient, LOOKUPABLE_CLIENT_ID } from './client-authentication.js';

/** PostgreSQL channel on which a changed or deleted client's id is notified (migration 20261121080000). */
export const CLIENT_CHANGES_CHANNEL = 'mxp_otherclient_clients';
/** PostgreSQL channel on which every change of a `client_backoff` row notifies its key (the client id as presented). */
export const BACKOFF_CHANGES_CHANNEL = 'mxp_otherclient_backoff';

/** What authentication needs to know of a client id, read from the database in one go. */
export interface ClientState {
  /** The client the id names, or null (unknown id). */
  client: ApiClient | null;
  /** The id's backoff row (past failures or a lock), if it has one: then the attempt has to be counted or cleared. */
  backoff: { lockedUntil: Date | null } | null;
}

/**
 * The clients that may be authenticated without touching the database: active, with no backoff row, unchanged since
 * they were read. Other ids (unknown, disabled, with failures or a lock) are never cached: an attacker's random ids
 * cannot evict real clients, and every refusal reads the database the same way (see `authenticateClientWithBackoff`).
 *
 * Exact across replicas through PostgreSQL notifications (the owner calls {@link invalidate} for each), and exact in
 * this process on its own: a backoff write made here (see {@link writingBackoff}) drops the id at once, without
 * waiting for its notification, and no read that raced with such a write is cached.
 */
export class ClientCache {
  readonly #db: PrismaClient;
  readonly #cache: NotifiedCache<ApiClient> | undefined;
  /** Increases when a backoff write of this process starts or ends: a read that saw it change is not cached. */
  #backoffWrites = 0;
  /** Ids with a backoff write of this process under way, and how many. */
  readonly #writing = new Map<string, number>();

  /** Without `cache` (CLIENT_CACHE_MAX_ENTRIES=0) nothing is cached: every request reads the database. */
  constructor(db: PrismaClient, cache?: NotifiedCache<ApiClient>) {
    this.#db = db;
    this.#cache = cache;
  }

  /** The cached client of `clientId`: known active, with no backoff row, as of the last notification. */
  peek(clientId: string): ApiClient | undefined {
    if (this.#cache === undefined || this.#writing.has(clientId)) return undefined;
    return this.#cache.get(clientId);
  }

  /**
   * The state of `clientId` read from the database now (never from the cache): the client row and its backoff row,
   * read concurrently. The client is cached when it is active, has no backoff row and nothing changed it
   * meanwhile. An id no client can have is not looked up at all (it has no row either way).
   */
  async read(clientId: string): Promise<ClientState> {
    if (!LOOKUPABLE_CLIENT_ID.test(clientId)) return { client: null, backoff: null };
    const load = async (): Promise<ClientState> => {
      const [client, backoff] = await Promise.all([
        findClient(this.#db, clientId),
        // The backoff key of an id that can name a client is the id itself (see clientBackoffKey).
        this.#db.clientBackoff.findUnique({ where: { key: clientId }, select: { lockedUntil: true } }),
      ]);
      return { client, backoff };
    };
    const cache = this.#cache;
    if (cache === undefined) return load();
    const writesBefore = this.#backoffWrites;
    let state: ClientState | undefined;
    // Never drops what is cached (a read per request of a busy client would then keep it out of the cache for good).
    await cache.getOrLoad(clientId, async () => {
      state = await load();
      // A backoff write of this process that overlapped the read may have committed after it: not cacheable.
      const raced = this.#backoffWrites !== writesBefore || this.#writing.has(clientId);
      const cacheable = state.client?.status === 'active' && state.backoff === null && !raced;
      return cacheable ? (state.client ?? undefined) : undefined;
    });
    // The client was cached (before this call, or by a concurrent read): read all the same, as promised.
    return state ?? load();
  }

  /**
   * Runs `work`, which writes (or is about to write) the backoff row of `clientId`: count an attempt, forget failures.
   * Its cached client is dropped before `work` starts and again once it has ended, it is not served meanwhile, and no
   * read overlapping it is cached: the next request of this process sees the write without waiting for its
   * notification.
   */
  async writingBackoff<T>(clientId: string, work: () => Promise<T>): Promise<T> {
    this.#backoffWrites++;
    this.#writing.set(clientId, (this.#writing.get(clientId) ?? 0) + 1);
    this.#cache?.delete(clientId);
    try {
      return await work();
    } finally {
      this.#backoffWrites++;
      const remaining = (this.#writing.get(clientId) ?? 1) - 1;
      if (remaining > 0) this.#writing.set(clientId, remaining);
      else this.#writing.delete(clientId);
      this.#cache?.delete(clientId);
    }
  }

  /** A notification named this id (client changed or deleted, backoff row written by any replica). */
  invalidate(clientId: string): void {
    this.#cache?.delete(clientId);
  }

  /** Whether clients are cached at all (CLIENT_CACHE_MAX_ENTRIES > 0). */
  get enabled(): boolean {
    return this.#cache !== undefined;
  }

  /** Clients held (for tests and metrics). */
  get size(): number {
    return this.#cache?.size ?? 0;
  }
}
