import type { PrismaClient } from '@mxp/db';
import { type ChangeFeed, NotifiedCache } from '@mxp/db/change-feed';
import { JwtCoreError, type JwtCoreErrorCode, type KeySet, type VerifiedTokenCache } from '@mxp/jwt-core';
import { activeSessionWhere } from './sessions.js';
import { type AccessTokenClaims, hashRefreshToken, verifySessionAccessToken } from './tokens.js';

// Validation is the gateway's check of every request, so it must not cost a database read and a signature
// verification each time, yet a logout must be refused by every replica within a second. Sessions are cached per
// replica and dropped when PostgreSQL notifies a change to them (prisma/migrations/*_change_notifications), and the
// cache serves only while its change feed vouches that no notification can have been missed; otherwise validation
// reads the database as before.

/** The channels the session cache listens on, notified by the database's triggers with the changed row's id. */
export const SESSION_CACHE_CHANNELS = {
  sessions: 'mxp_auth_sessions',
  users: 'mxp_auth_users',
  applications: 'mxp_auth_applications',
} as const;

/** What validation needs of an active session (expiries in epoch milliseconds, cheaper to keep than `Date`s). */
export interface ActiveSession {
  userId: string;
  applicationId: string;
  idleExpiresAt: number;
  absoluteExpiresAt: number;
}

/** The session if it is active at `now` and its user and application are enabled, as `findActiveSession` decides. */
export async function loadActiveSession(
  db: PrismaClient,
  sessionId: string,
  now: Date,
): Promise<ActiveSession | undefined> {
  const row = await db.session.findFirst({
    where: { id: sessionId, ...activeSessionWhere(now), user: { status: 'active' }, application: { status: 'active' } },
    select: { userId: true, applicationId: true, idleExpiresAt: true, absoluteExpiresAt: true },
  });
  if (!row) return undefined;
  return {
    userId: row.userId,
    applicationId: row.applicationId,
    idleExpiresAt: row.idleExpiresAt.getTime(),
    absoluteExpiresAt: row.absoluteExpiresAt.getTime(),
  };
}

/** The session a refresh token belongs to (to forget it locally once a reuse of the token revoked it). */
export async function sessionOfRefreshToken(db: PrismaClient, rawToken: string): Promise<string | undefined> {
  const stored = await db.refreshToken.findUnique({
    where: { tokenHash: hashRefreshToken(rawToken) },
    select: { sessionId: true },
  });
  return stored?.sessionId;
}

function isActiveAt(session: ActiveSession, nowMs: number): boolean {
  return nowMs < session.idleExpiresAt && nowMs < session.absoluteExpiresAt;
}

/** Options of {@link SessionCache}. */
export interface SessionCacheOptions {
  /** 0 turns caching off: every lookup reads the database. */
  maxEntries: number;
  maxAgeMs: number;
}

/**
 * Active sessions by id, exact as long as the owner forwards the feed's notifications ({@link onNotification}) and
 * forgets what it revokes itself right after committing ({@link forgetSessions}).
 */
export class SessionCache {
  readonly #db: PrismaClient;
  readonly #feed: ChangeFeed;
  readonly #cache: NotifiedCache<ActiveSession>;
  /** Lookups answered from memory, and lookups that read the database (for metrics and tests). */
  readonly stats = { hits: 0, loads: 0 };

  constructor(db: PrismaClient, feed: ChangeFeed, options: SessionCacheOptions) {
    this.#db = db;
    this.#feed = feed;
    this.#cache = new NotifiedCache(feed, options);
  }

  /** The session if it is active at `now` (from memory when the feed vouches for it, else from the database). */
  async activeSession(sessionId: string, now: Date): Promise<ActiveSession | undefined> {
    return this.cached(sessionId, now) ?? this.load(sessionId, now);
  }

  /**
   * The session from memory, if held, vouched for by the feed and active at `now` (synchronous: validation's fast
   * path awaits nothing); `undefined` means "ask {@link load}", not "inactive".
   */
  cached(sessionId: string, now: Date): ActiveSession | undefined {
    const cached = this.#cache.get(sessionId);
    if (cached === undefined) return undefined;
    if (isActiveAt(cached, now.getTime())) {
      this.stats.hits++;
      return cached;
    }
    // Past an expiry it held: a refresh may have moved the idle expiry later (refreshes do not notify, since they
    // only ever extend a session), so the row decides.
    this.#cache.delete(sessionId);
    return undefined;
  }

  /** The session from the database if it is active at `now` (cached when the feed allows). */
  async load(sessionId: string, now: Date): Promise<ActiveSession | undefined> {
    this.stats.loads++;
    const session = await this.#cache.getOrLoad(sessionId, () => loadActiveSession(this.#db, sessionId, now));
    return session !== undefined && isActiveAt(session, now.getTime()) ? session : undefined;
  }

  /** Acts on a notification of the change feed (its payload is the changed row's id). */
  onNotification(channel: string, payload: string): void {
    switch (channel) {
      case SESSION_CACHE_CHANNELS.sessions:
        this.#cache.delete(payload);
        break;
      // Disabling a user or an application revokes nothing by itself, yet ends every session of it.
      case SESSION_CACHE_CHANNELS.users:
        this.#cache.deleteWhere((session) => session.userId === payload);
        break;
      case SESSION_CACHE_CHANNELS.applications:
        this.#cache.deleteWhere((session) => session.applicationId === payload);
        break;
      default:
        this.#cache.clear();
    }
  }

  /**
   * Forgets sessions this replica has just revoked (after the commit): its own next validation is exact at once,
   * without waiting for the notification.
   */
  forgetSessions(sessionIds: Iterable<string>): void {
    for (const id of sessionIds) this.#cache.delete(id);
  }

  /** Whether cached sessions may be served now (the feed is listening and its heartbeat is on time). */
  isCurrent(): boolean {
    return this.#feed.isCurrent();
  }

  /** Sessions held in memory. */
  get size(): number {
    return this.#cache.size;
  }
}

/** What an access token presented to the service amounts to. */
export type AccessTokenCheck =
  | { ok: true; claims: AccessTokenClaims; session: ActiveSession }
  | { ok: false; refused: 'invalid' | 'expired'; code: JwtCoreErrorCode }
  | { ok: false; refused: 'session_inactive' };

/**
 * Validation: the token's signature and claims (skipped for a token already verified), then its session, active at
 * `now` (from the session cache when its feed vouches for it, else from the database).
 */
export async function checkAccessToken(
  context: {
    keySet: KeySet;
    issuer: string;
    verifiedTokens: VerifiedTokenCache<AccessTokenClaims>;
    sessionCache: SessionCache;
  },
  token: string,
  now: Date,
): Promise<AccessTokenCheck> {
  // Both caches are read synchronously: a request they answer awaits nothing until its response.
  let claims = context.verifiedTokens.get(token, now);
  if (claims === undefined) {
    try {
      claims = await verifySessionAccessToken(context.keySet, context.issuer, token, now);
    } catch (error) {
      if (!(error instanceof JwtCoreError)) throw error;
      return { ok: false, refused: error.code === 'ERR_JWT_EXPIRED' ? 'expired' : 'invalid', code: error.code };
    }
    context.verifiedTokens.set(token, claims);
  }
  const session =
    context.sessionCache.cached(claims.sessionId, now) ?? (await context.sessionCache.load(claims.sessionId, now));
  // The token's audience must be its session's application, not merely one the signature covers.
  if (!session || session.userId !== claims.userId || session.applicationId !== claims.applicationId) {
    return { ok: false, refused: 'session_inactive' };
  }
  return { ok: true, claims, session };
}
