import type { ChangeFeed } from '@mxp/db/change-feed';
import { VerifiedTokenCache } from '@mxp/jwt-core';
import { startAppChangeFeed } from '@mxp/service-kit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ApplicationCache } from '../services/application-cache.js';
import { SESSION_CACHE_CHANNELS, SessionCache } from '../services/session-cache.js';
import type { AccessTokenClaims } from '../services/tokens.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Active sessions for validation, kept exact by the database's change notifications. */
    sessionCache: SessionCache;
    /** Claims of access tokens already verified, so a token presented again skips its signature check. */
    verifiedTokens: VerifiedTokenCache<AccessTokenClaims>;
    /** Applications for login, kept exact by the same change notifications. */
    applicationCache: ApplicationCache;
  }
}

export interface SessionCachePluginOptions {
  /** Where to LISTEN (the app's database). */
  listenUrl: string;
  /** 0: no session cache and no LISTEN connection (every validation reads the database). */
  maxEntries: number;
  maxAgeMs: number;
  /** Longest the cache serves without its feed confirming it missed nothing (heartbeats go three times as often). */
  maxStalenessMs: number;
  /** 0: every token's signature is verified on every call. */
  verifiedTokenMaxEntries: number;
}

/** `application_name` of the LISTEN connection (to find it in `pg_stat_activity`). */
export const CHANGE_FEED_APPLICATION_NAME = 'mxp-auth-service-session-cache';

/** Applications are few: a bound only against a flood of distinct (existing) ids. */
const APPLICATION_CACHE_MAX_ENTRIES = 1_000;

/** A feed that never vouches, for when the cache is off: nothing is ever served from memory. */
const NO_FEED: ChangeFeed = { isCurrent: () => false, epoch: 0, generation: 0, close: async () => {} };

/**
 * Starts the change feed with the app (closed with it); decorates `sessionCache`, `applicationCache` and
 * `verifiedTokens`.
 */
export const sessionCachePlugin = fp<SessionCachePluginOptions>(
  async (app: FastifyInstance, options) => {
    let feed = NO_FEED;
    // Assigned before the feed can deliver anything: it only listens once this function has returned.
    let cache: SessionCache | undefined;
    let applications: ApplicationCache | undefined;
    if (options.maxEntries > 0) {
      feed = startAppChangeFeed(app, 'session cache', 'validating against the database until it is back', {
        connectionString: options.listenUrl,
        channels: Object.values(SESSION_CACHE_CHANNELS),
        applicationName: CHANGE_FEED_APPLICATION_NAME,
        heartbeatMs: Math.floor(options.maxStalenessMs / 3),
        maxStalenessMs: options.maxStalenessMs,
        onNotification: (channel, payload) => {
          cache?.onNotification(channel, payload);
          applications?.onNotification(channel, payload);
        },
      });
    }
    cache = new SessionCache(app.db, feed, { maxEntries: options.maxEntries, maxAgeMs: options.maxAgeMs });
    applications = new ApplicationCache(app.db, feed, {
      maxEntries: options.maxEntries > 0 ? APPLICATION_CACHE_MAX_ENTRIES : 0,
      maxAgeMs: options.maxAgeMs,
    });
    app.decorate('sessionCache', cache);
    app.decorate('applicationCache', applications);
    app.decorate('verifiedTokens', new VerifiedTokenCache<AccessTokenClaims>(options.verifiedTokenMaxEntries));
  },
  { name: 'mxp-session-cache', fastify: '5.x', dependencies: ['mxp-db'] },
);
