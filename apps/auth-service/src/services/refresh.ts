import { type PrismaClient, queryNamed, uuidV7 } from '@mxp/db';
import { type RequestOrigin, recordLog } from './audit.js';
import { revokeSessions } from './sessions.js';
import { generateRefreshToken, hashRefreshToken } from './tokens.js';

/** What the access token of a refreshed session is made of. */
export interface RefreshedSession {
  id: string;
  userId: string;
  applicationId: string;
  absoluteExpiresAt: Date;
  /** Lifetime of the application's access tokens. */
  accessTokenTtlSeconds: number;
}

export type RefreshOutcome =
  | { ok: true; session: RefreshedSession; refreshToken: string | undefined }
  | { ok: false; reason: 'unknown' | 'inactive' | 'concurrent_reuse' | 'reuse_detected' };

/** The row of `auth.refresh_session` (migration `refresh_fast_path`), by outcome. */
type RefreshRow =
  | { outcome: 'unknown' | 'inactive' | 'concurrent_reuse' }
  | {
      outcome: 'spent';
      token_id: string;
      token_rotated_at: Date;
      session_id: string;
      user_id: string;
      application_id: string;
    }
  | {
      outcome: 'refreshed';
      session_id: string;
      user_id: string;
      application_id: string;
      absolute_expires_at: Date;
      access_token_ttl_seconds: number;
      rotated: boolean;
    };

const REFRESH_SQL = 'SELECT * FROM auth.refresh_session($1, $2::timestamptz, $3, $4, $5, $6::timestamptz, $7, $8)';

/**
 * Named (`queryNamed`): each pooled connection parses and plans the call once. The version suffix is the function's
 * result shape: a migration that changes its OUT columns (DROP and CREATE) must come with a new name.
 */
const REFRESH_STATEMENT = 'auth.refresh_session/1';

/** As `recordLog` (audit.ts) stores it. */
const USER_AGENT_MAX = 512;

/**
 * Exchanges a refresh token. With rotation on (the application's setting, the default), the token is spent and a
 * successor is returned; the spend is a conditional update, so of two concurrent refreshes with one token exactly one
 * succeeds. A spent token presented again within `reuseGraceSeconds` is refused (a client retrying); later, it means
 * the token was stolen and the whole session is revoked.
 *
 * A refresh needs an open session (neither revoked nor idle or absolutely expired) of an active user and application,
 * and a token neither revoked nor expired. It moves the session's idle expiry (never past its absolute expiry),
 * counts the refresh and logs it ('refresh'), all in one transaction: nothing is kept of a refresh that fails. The
 * session row is locked before the refresh-token row, as logout (`revokeSessions`) does, so the two never deadlock.
 *
 * All of that is one round trip, the database function `auth.refresh_session` (see its migration); only a spent token
 * presented after the grace period takes more (the revocation).
 */
export async function refreshSession(
  db: PrismaClient,
  rawToken: string,
  reuseGraceSeconds: number,
  origin: RequestOrigin,
  now: Date,
): Promise<RefreshOutcome> {
  // Used only when the application rotates its tokens and the refresh succeeds.
  const successor = generateRefreshToken();
  const values = [
    hashRefreshToken(rawToken),
    now,
    uuidV7(),
    hashRefreshToken(successor),
    uuidV7(),
    new Date(),
    origin.ip,
    origin.userAgent?.slice(0, USER_AGENT_MAX) ?? null,
  ];
  // Prisma's own work for a raw query costs ~80 us of CPU, a quarter of what the whole request costs the process.
  const [row] = await queryNamed<RefreshRow>(db, { name: REFRESH_STATEMENT, text: REFRESH_SQL, values });
  if (!row) throw new Error('auth.refresh_session returned no row');
  switch (row.outcome) {
    case 'refreshed':
      return {
        ok: true,
        session: {
          id: row.session_id,
          userId: row.user_id,
          applicationId: row.application_id,
          absoluteExpiresAt: row.absolute_expires_at,
          accessTokenTtlSeconds: row.access_token_ttl_seconds,
        },
        refreshToken: row.rotated ? successor : undefined,
      };
    case 'spent':
      return spentTokenPresented(db, row, reuseGraceSeconds, origin, now);
    default:
      return { ok: false, reason: row.outcome };
  }
}

async function spentTokenPresented(
  db: PrismaClient,
  spent: Extract<RefreshRow, { outcome: 'spent' }>,
  reuseGraceSeconds: number,
  origin: RequestOrigin,
  now: Date,
): Promise<RefreshOutcome> {
  if (now.getTime() - spent.token_rotated_at.getTime() <= reuseGraceSeconds * 1000) {
    return { ok: false, reason: 'concurrent_reuse' };
  }
  await db.$transaction(async (tx) => {
    await revokeSessions(tx, { id: spent.session_id }, 'refresh_token_reuse', now);
    await recordLog(
      tx,
      {
        userId: spent.user_id,
        action: 'refresh_token_reuse',
        success: false,
        sessionId: spent.session_id,
        applicationId: spent.application_id,
        details: { refreshTokenId: spent.token_id },
      },
      origin,
    );
  });
  return { ok: false, reason: 'reuse_detected' };
}
