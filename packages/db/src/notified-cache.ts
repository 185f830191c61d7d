import { LRUCache } from 'lru-cache';
import type { ChangeFeed } from './change-feed.js';

/** Options of {@link NotifiedCache}. */
export interface NotifiedCacheOptions {
  /** Most entries kept (least recently used ones are dropped first); 0 keeps none (every read loads). */
  maxEntries: number;
  /**
   * Longest an entry is kept, whatever the feed says (a safety net, not the invalidation mechanism); 0 for no limit
   * of age.
   */
  maxAgeMs: number;
}

interface Entry<V> {
  value: V;
  generation: number;
}

/** A load in progress: a deletion of its key meanwhile means what it read may already be out of date. */
interface PendingLoad {
  invalidated: boolean;
}

/**
 * A bounded cache of database rows that serves only while its {@link ChangeFeed} vouches for it. The owner deletes
 * keys when notifications name them, and right after its own commits that change them; a row loaded while any
 * notification arrived, while its key was deleted, or before the feed last reconnected, is not trusted, so a change
 * can never be hidden by a load that raced with it.
 */
export class NotifiedCache<V extends object> {
  readonly #feed: ChangeFeed;
  readonly #entries: LRUCache<string, Entry<V>> | undefined;
  readonly #pending = new Map<string, Set<PendingLoad>>();

  constructor(feed: ChangeFeed, options: NotifiedCacheOptions) {
    const { maxEntries, maxAgeMs } = options;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 0 || !Number.isSafeInteger(maxAgeMs) || maxAgeMs < 0) {
      throw new RangeError('maxEntries and maxAgeMs must be integers ≥ 0');
    }
    this.#feed = feed;
    this.#entries = maxEntries === 0 ? undefined : new LRUCache<string, Entry<V>>({ max: maxEntries, ttl: maxAgeMs });
  }

  /** The cached value, if the feed is current and the value was cached since it last reconnected. */
  get(key: string): V | undefined {
    if (this.#entries === undefined || !this.#feed.isCurrent()) return undefined;
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.generation !== this.#feed.generation) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** The cached value, or what `load` reads (cached if nothing changed meanwhile); `undefined` is never cached. */
  async getOrLoad(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    if (this.#entries === undefined) return load();
    const cached = this.get(key);
    if (cached !== undefined) return cached;
    const { epoch, generation } = this.#feed;
    const pending: PendingLoad = { invalidated: false };
    let loads = this.#pending.get(key);
    if (loads === undefined) {
      loads = new Set();
      this.#pending.set(key, loads);
    }
    loads.add(pending);
    let value: V | undefined;
    try {
      value = await load();
    } finally {
      loads.delete(pending);
      if (loads.size === 0 && this.#pending.get(key) === loads) this.#pending.delete(key);
    }
    if (value !== undefined && !pending.invalidated && this.#feed.epoch === epoch && this.#feed.isCurrent()) {
      this.#entries.set(key, { value, generation });
    }
    return value;
  }

  /** Forgets one key (its row changed); a load of it in progress will not be cached. */
  delete(key: string): void {
    this.#entries?.delete(key);
    for (const pending of this.#pending.get(key) ?? []) pending.invalidated = true;
  }

  /**
   * Forgets every entry whose value matches (for changes that concern many rows, like a disabled application); no
   * load in progress will be cached, since what it reads cannot be matched yet. Walks every entry: for rare changes.
   */
  deleteWhere(matches: (value: V) => boolean): void {
    this.#invalidatePending();
    if (this.#entries === undefined) return;
    const doomed: string[] = [];
    // Collected first: deleting from the cache while iterating over it could skip or revisit entries.
    for (const [key, entry] of this.#entries.entries()) {
      if (matches(entry.value)) doomed.push(key);
    }
    for (const key of doomed) this.#entries.delete(key);
  }

  /** Forgets everything (no load in progress will be cached). */
  clear(): void {
    this.#invalidatePending();
    this.#entries?.clear();
  }

  /** How many entries are held (for metrics and tests). */
  get size(): number {
    return this.#entries?.size ?? 0;
  }

  #invalidatePending(): void {
    for (const loads of this.#pending.values()) {
      for (const pending of loads) pending.invalidated = true;
    }
  }
}
