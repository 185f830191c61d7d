import { randomBytes } from 'node:crypto';
import pg from 'pg';

export { NotifiedCache, type NotifiedCacheOptions } from './notified-cache.js';

// Caches of database rows in each replica (sessions, API clients) stay exact across replicas through PostgreSQL
// LISTEN/NOTIFY: a trigger notifies on every change that matters, and each replica drops what it cached. A
// notification can only be missed while the listening connection is down or silently broken, so a cache serves only
// while the feed can vouch for it: connected, and its last heartbeat heard back recently. A heartbeat is a
// notification the feed sends itself: PostgreSQL delivers notifications in commit order, so hearing one back means
// every change committed before it was sent has been delivered (and a connection that cannot carry notifications,
// such as one through a transaction-pooling proxy, never vouches for anything).

/** Options of {@link startChangeFeed}. */
export interface ChangeFeedOptions {
  connectionString: string;
  /** Channels to LISTEN on (identifiers: letters, digits and `_`). */
  channels: readonly string[];
  /**
   * Called for each notification, in commit order. Should it throw, the feed reports the error and reconnects, which
   * makes every cache drop what it held (the notification may not have been acted on).
   */
  onNotification: (channel: string, payload: string) => void;
  /** Told of connection problems (they are not thrown); the feed reconnects by itself. */
  onError?: (error: Error) => void;
  /** Told when the feed listens again after having been down. */
  onListening?: () => void;
  /** How often the feed sends itself a heartbeat notification to check the connection (default 1,000 ms). */
  heartbeatMs?: number;
  /**
   * How long a cache may trust the feed after its last answered heartbeat (default 3 × heartbeatMs; more than
   * heartbeatMs, or the feed would stop vouching between two healthy heartbeats).
   */
  maxStalenessMs?: number;
  /** Connection attempt timeout (default 2,000 ms). */
  connectTimeoutMs?: number;
  /** Longest delay between reconnection attempts (default 5,000 ms; it starts at 100 ms and doubles). */
  maxReconnectDelayMs?: number;
  /** `application_name` of the listening connection. */
  applicationName?: string;
  /** Monotonic clock in milliseconds, for tests (default `performance.now`). */
  now?: () => number;
}

/** A running LISTEN connection that caches consult before serving anything they hold. */
export interface ChangeFeed {
  /**
   * Whether every change committed more than `maxStalenessMs` ago has been delivered: caches may serve only while
   * this holds (otherwise they read the database).
   */
  isCurrent(): boolean;
  /**
   * Increases with every notification and every time the feed was down: a value read before loading a row and
   * unchanged after means no change can have slipped in between, so the row may be cached.
   */
  readonly epoch: number;
  /** Increases every time the feed (re)connects: what was cached under an earlier value may have missed changes. */
  readonly generation: number;
  /** Stops listening and closes the connection. */
  close(): Promise<void>;
}

const CHANNEL_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const FIRST_RECONNECT_DELAY_MS = 100;

/** Starts listening (in the background: {@link ChangeFeed.isCurrent} is false until its first heartbeat is heard). */
export function startChangeFeed(options: ChangeFeedOptions): ChangeFeed {
  for (const channel of options.channels) {
    if (!CHANNEL_NAME.test(channel)) throw new Error(`invalid channel name: ${channel}`);
  }
  const heartbeatMs = options.heartbeatMs ?? 1_000;
  const maxStalenessMs = options.maxStalenessMs ?? 3 * heartbeatMs;
  const connectTimeoutMs = options.connectTimeoutMs ?? 2_000;
  const maxReconnectDelayMs = options.maxReconnectDelayMs ?? 5_000;
  if (!(heartbeatMs > 0) || !(maxStalenessMs > heartbeatMs) || !(connectTimeoutMs > 0)) {
    throw new Error('the change feed needs heartbeatMs > 0, maxStalenessMs > heartbeatMs and connectTimeoutMs > 0');
  }
  // Monotonic: a wall clock set back would otherwise keep a silent feed "current" for as long as the jump.
  const now = options.now ?? (() => performance.now());
  const report = (error: unknown) => options.onError?.(error instanceof Error ? error : new Error(String(error)));

  let client: pg.Client | undefined;
  let closed = false;
  let connected = false;
  let lastHeartbeatAt = Number.NEGATIVE_INFINITY;
  let reconnectDelayMs = FIRST_RECONNECT_DELAY_MS;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let wasDown = false;
  let closing: Promise<void> | undefined;
  // Heartbeats are notifications the feed sends itself, on a channel nobody else uses (see the comment above).
  const probeChannel = `mxp_feed_${randomBytes(6).toString('hex')}`;
  let probeCount = 0;

  const feed = {
    epoch: 0,
    generation: 0,
    isCurrent: () => connected && now() - lastHeartbeatAt <= maxStalenessMs,
    close: () => {
      closing ??= (async () => {
        closed = true;
        clearTimeout(reconnectTimer);
        clearInterval(heartbeatTimer);
        connected = false;
        feed.epoch++;
        const current = client;
        // Forgotten first, so that its "end" event is not taken for a failure.
        client = undefined;
        if (current) await retire(current);
      })();
      return closing;
    },
  };

  const retire = async (current: pg.Client) => {
    current.removeAllListeners('notification');
    current.removeAllListeners('error');
    current.on('error', () => undefined);
    await current.end().catch(() => undefined);
  };

  const down = (current: pg.Client, error?: unknown) => {
    if (current !== client) return;
    // State first: whoever is told of the error must already see the feed as not current.
    connected = false;
    wasDown = true;
    feed.epoch++;
    clearInterval(heartbeatTimer);
    client = undefined;
    void retire(current);
    if (closed) return;
    if (error !== undefined) report(error);
    reconnectTimer = setTimeout(reconnect, reconnectDelayMs);
    reconnectTimer.unref();
    reconnectDelayMs = Math.min(reconnectDelayMs * 2, maxReconnectDelayMs);
  };

  const connect = async () => {
    if (closed) return;
    const current = new pg.Client({
      connectionString: options.connectionString,
      connectionTimeoutMillis: connectTimeoutMs,
      // Bounds the heartbeat's wait on a silently broken connection (no error ever comes from one).
      query_timeout: heartbeatMs + connectTimeoutMs,
      keepAlive: true,
      application_name: options.applicationName,
    });
    client = current;
    // Heartbeats of this connection not heard back yet, by payload, in the order they were sent.
    const probes = new Map<string, { sentAt: number; committedAt: number | undefined }>();
    let probing = false;

    const heard = (payload: string) => {
      const probe = probes.get(payload);
      if (probe === undefined) return;
      // Delivered in commit order: the earlier heartbeats are answered too.
      for (const key of probes.keys()) {
        probes.delete(key);
        if (key === payload) break;
      }
      lastHeartbeatAt = Math.max(lastHeartbeatAt, probe.sentAt);
      if (connected) return;
      connected = true;
      reconnectDelayMs = FIRST_RECONNECT_DELAY_MS;
      if (wasDown) {
        wasDown = false;
        try {
          options.onListening?.();
        } catch (error) {
          report(error);
        }
      }
    };

    const beat = () => {
      if (current !== client) return;
      const at = now();
      for (const probe of probes.values()) {
        // Committed, yet never delivered: this connection does not carry notifications back (a transaction-pooling
        // proxy, an embedded server), and the feed must not vouch for anything heard through it.
        if (probe.committedAt !== undefined && at - probe.committedAt > maxStalenessMs) {
          down(current, new Error('the change feed does not hear its own notifications on this connection'));
          return;
        }
      }
      // One query at a time; a heartbeat that never answers fails by its query timeout.
      if (probing) return;
      probing = true;
      const payload = String(++probeCount);
      const probe = { sentAt: at, committedAt: undefined as number | undefined };
      probes.set(payload, probe);
      current.query('SELECT pg_notify($1, $2)', [probeChannel, payload]).then(
        () => {
          probing = false;
          if (probes.has(payload)) probe.committedAt = now();
        },
        (error: unknown) => down(current, error),
      );
    };

    current.on('error', (error) => down(current, error));
    current.on('end', () => down(current, new Error('the change feed connection ended')));
    current.on('notification', (message) => {
      if (current !== client) return;
      if (message.channel === probeChannel) {
        heard(message.payload ?? '');
        return;
      }
      feed.epoch++;
      try {
        options.onNotification(message.channel, message.payload ?? '');
      } catch (error) {
        // The change may not have been acted on: reconnecting bumps the generation, so every cache starts over.
        down(current, error);
      }
    });
    try {
      await current.connect();
      for (const channel of [...options.channels, probeChannel]) await current.query(`LISTEN ${channel}`);
    } catch (error) {
      down(current, error);
      return;
    }
    if (closed || current !== client) return;
    // Anything cached before this point may have missed a change while the feed was down. The feed vouches again
    // once its first heartbeat comes back.
    feed.epoch++;
    feed.generation++;
    beat();
    heartbeatTimer = setInterval(beat, heartbeatMs);
    heartbeatTimer.unref();
  };

  // A failure outside the connection itself (a malformed connection string) is reported and retried like any other.
  const reconnect = () => {
    connect().catch((error: unknown) => {
      const current = client;
      if (current) down(current, error);
      else if (!closed) report(error);
    });
  };

  reconnect();
  return feed;
}
