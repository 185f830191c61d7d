import type { ApiClient } from '@mxp/db';
import { NotifiedCache } from '@mxp/db/change-feed';
import { startAppChangeFeed } from '@mxp/service-kit';
import fp from 'fastify-plugin';
import { BACKOFF_CHANGES_CHANNEL, CLIENT_CHANGES_CHANNEL, ClientCache } from '../services/client-cache.js';
import { REVOCATION_CHANNEL, RevocationCache, type RevocationState } from '../services/revocation-cache.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The clients authentication may use without reading the database (see services/client-cache.ts). */
    clientCache: ClientCache;
    /** Which tokens were revoked, for introspection (see services/revocation-cache.ts); fed by the same connection. */
    revocations: RevocationCache;
  }
}

export interface ClientCachePluginOptions {
  databaseUrl: string;
  /** CLIENT_CACHE_MAX_ENTRIES: 0 caches nothing (clients nor revocations) and opens no listening connection. */
  maxEntries: number;
  /** Tokens whose revocation state is kept (VERIFIED_TOKEN_CACHE_MAX_ENTRIES, the tokens introspection remembers). */
  revocationMaxEntries: number;
  connectTimeoutMs: number;
}

// Notifications keep entries exact; this only bounds the damage of a change made with the triggers bypassed.
const MAX_AGE_MS = 60_000;

/**
 * The client cache of this replica, and its revocation cache. A dedicated connection LISTENs for changes of clients,
 * of backoff rows and for revocations (any replica's, this one's included) and drops the ids they name; while that
 * connection is down or silent the caches serve nothing and every request reads the database (see
 * packages/db/src/change-feed.ts).
 */
export const clientCachePlugin = fp<ClientCachePluginOptions>(
  async (app, options) => {
    if (options.maxEntries === 0) {
      app.decorate('clientCache', new ClientCache(app.db));
      app.decorate('revocations', new RevocationCache(app.db));
      return;
    }
    let clientCache: ClientCache | undefined;
    let revocations: RevocationCache | undefined;
    const feed = startAppChangeFeed(app, 'client cache', 'clients read from the database', {
      connectionString: options.databaseUrl,
      channels: [CLIENT_CHANGES_CHANNEL, BACKOFF_CHANGES_CHANNEL, REVOCATION_CHANNEL],
      // A revocation's payload is its jti; the others' a client id (a backoff key is the client id as presented).
      onNotification: (channel, id) =>
        channel === REVOCATION_CHANNEL ? revocations?.invalidate(id) : clientCache?.invalidate(id),
      connectTimeoutMs: options.connectTimeoutMs,
      applicationName: 'otherclient-client-cache',
    });
    clientCache = new ClientCache(
      app.db,
      new NotifiedCache<ApiClient>(feed, { maxEntries: options.maxEntries, maxAgeMs: MAX_AGE_MS }),
    );
    revocations = new RevocationCache(
      app.db,
      new NotifiedCache<RevocationState>(feed, { maxEntries: options.revocationMaxEntries, maxAgeMs: MAX_AGE_MS }),
    );
    app.decorate('clientCache', clientCache);
    app.decorate('revocations', revocations);
  },
  { name: 'otherclient-client-cache', fastify: '5.x', dependencies: ['mxp-db'] },
);
