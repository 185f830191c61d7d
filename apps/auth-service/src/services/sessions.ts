import { type Application, type Prisma, type PrismaClient, queryNamed, type Session, uuidV7 } from '@mxp/db';
import { storedBackoffKey } from '@mxp/db/backoff';
import type { AttemptRecord, RequestOrigin } from './audit.js';
import { generateRefreshToken, hashRefreshToken } from './tokens.js';

type Db = PrismaClient | Prisma.TransactionClient;

/** A session is active until revoked, idle for its application's idle timeout, or past its absolute timeout. */
export function activeSessionWhere(now: Date): Prisma.SessionWhereInput {
  return { revokedAt: null, idleExpiresAt: { gt: now }, absoluteExpiresAt: { gt: now } };
}

function idleExpiry(application: Application, absoluteExpiresAt: Date, now: Date): Date {
  return new Date(Math.min(now.getTime() + application.idleTimeoutSeconds * 1000, absoluteExpiresAt.getTime()));
}

/** What {@link openSession} writes: the session of a signed-in user on one device and application, and its record. */
export interface NewSession {
  userId: string;
  application: Application;
  deviceInfo: Prisma.InputJsonValue | undefined;
  origin: RequestOrigin;
  /** The observed attempt that led here, recorded with the session. */
  attempt?: AttemptRecord;
  /** `passwordChangedAt` of the user when the password was checked: a change since then refuses the session. */
  passwordCheckedAgainst?: Date;
  /** The account's backoff key (see `checkCredentialsWithBackoff`), whose failures the session forgets. */
  backoffKey?: string;
}

const OPEN_SESSION_SQL =
  'SELECT outcome FROM auth.open_session($1, $2::timestamptz, $3, $4, $5::jsonb, $6, $7, $8::timestamptz, ' +
  '$9::timestamptz, $10::timestamptz, $11, $12, $13, $14, $15, $16, $17::auth."AttemptMethod", ' +
  '$18::auth."AttemptSource", $19, $20, $21::jsonb, $22::timestamptz, $23, $24::timestamptz, $25)';
/** Named (`queryNamed`), so each pooled connection parses and plans this 25-parameter call once. */
const OPEN_SESSION_STATEMENT = 'auth.open_session/1';

/** As `recordAttempt` and `recordLog` (audit.ts) store them. */
const USER_AGENT_MAX = 512;
const IDENTIFIER_MAX = 320;

/**
 * Opens a session for a signed-in user on one device and application, with its first refresh token, records the
 * successful attempt and the login, and forgets the account's backoff failures, all in one transaction (all of it or
 * nothing). The user row is locked against a concurrent disable or password change (which revoke sessions) until the
 * session is committed; a user disabled, or whose password changed, since the password was checked is refused with
 * {@link SessionRefused}, having written nothing.
 *
 * All of that is one round trip, the database function `auth.open_session` (see its migration).
 */
export async function openSession(
  db: PrismaClient,
  input: NewSession,
  now: Date,
): Promise<{ session: Session; refreshToken: string }> {
  const absoluteExpiresAt = new Date(now.getTime() + input.application.absoluteTimeoutSeconds * 1000);
  const refreshToken = generateRefreshToken();
  const { origin, attempt } = input;
  const session: Session = {
    id: uuidV7(),
    userId: input.userId,
    applicationId: input.application.id,
    deviceInfo: (input.deviceInfo ?? null) as Prisma.JsonValue,
    ip: origin.ip,
    userAgent: origin.userAgent?.slice(0, USER_AGENT_MAX) ?? null,
    refreshCount: 0,
    createdAt: now,
    lastSeenAt: now,
    idleExpiresAt: idleExpiry(input.application, absoluteExpiresAt, now),
    absoluteExpiresAt,
    revokedAt: null,
    revokedReason: null,
  };
  // Stored as Prisma stores a Json column (JSON.stringify), and as SQL NULL when absent.
  const json = (value: Prisma.InputJsonValue | null | undefined) => (value == null ? null : JSON.stringify(value));
  // Written when the session is, as Prisma's defaults would have it (one instant for both rows).
  const recordedAt = new Date();
  const values = [
    session.userId,
    input.passwordCheckedAgainst ?? null,
    session.applicationId,
    session.id,
    json(input.deviceInfo),
    session.ip,
    session.userAgent,
    now,
    session.idleExpiresAt,
    absoluteExpiresAt,
    uuidV7(),
    hashRefreshToken(refreshToken),
    attempt ? uuidV7() : null,
    attempt?.userId ?? null,
    attempt?.identifier?.slice(0, IDENTIFIER_MAX) ?? null,
    attempt?.applicationId ?? null,
    attempt?.method ?? null,
    attempt?.source ?? null,
    attempt?.success ?? null,
    attempt?.reason ?? null,
    json(attempt?.deviceInfo),
    recordedAt,
    uuidV7(),
    recordedAt,
    input.backoffKey === undefined ? null : storedBackoffKey(input.backoffKey),
  ];
  // Prisma's own work per query is CPU taken from argon2 on a machine whose logins are bound by it.
  const [row] = await queryNamed<{ outcome: 'opened' | 'refused' }>(db, {
    name: OPEN_SESSION_STATEMENT,
    text: OPEN_SESSION_SQL,
    values,
  });
  if (!row) throw new Error('auth.open_session returned no row');
  if (row.outcome !== 'opened') throw new SessionRefused();
  return { session, refreshToken };
}

/** The user was disabled or changed password while signing in. */
export class SessionRefused extends Error {
  constructor() {
    super('the user was disabled or changed password during sign-in');
    this.name = 'SessionRefused';
  }
}

/** Revokes the matching open sessions and every refresh token of them; returns how many sessions were open. */
export async function revokeSessions(
  db: Db,
  where: Prisma.SessionWhereInput,
  reason: string,
  now: Date,
): Promise<number> {
  return (await revokeSessionIds(db, where, reason, now)).length;
}

/**
 * As {@link revokeSessions}, returning the ids of the sessions revoked, which the caller forgets from its session cache
 * once the transaction is committed.
 */
export async function revokeSessionIds(
  db: Db,
  where: Prisma.SessionWhereInput,
  reason: string,
  now: Date,
): Promise<string[]> {
  const open = await db.session.findMany({ where: { ...where, revokedAt: null }, select: { id: true } });
  if (open.length === 0) return [];
  const ids = open.map((session) => session.id);
  await db.session.updateMany({
    where: { id: { in: ids }, revokedAt: null },
    data: { revokedAt: now, revokedReason: reason },
  });
  await db.refreshToken.updateMany({ where: { sessionId: { in: ids }, revokedAt: null }, data: { revokedAt: now } });
  return ids;
}

/** The session a verified access token names, if it is still active and its user and application are enabled. */
export async function findActiveSession(db: PrismaClient, sessionId: string, userId: string, now: Date) {
  return db.session.findFirst({
    where: {
      id: sessionId,
      userId,
      ...activeSessionWhere(now),
      user: { status: 'active' },
      application: { status: 'active' },
    },
  });
}

/** The user's active sessions, newest first. */
export async function listActiveSessions(db: PrismaClient, userId: string, now: Date): Promise<Session[]> {
  return db.session.findMany({
    where: { userId, ...activeSessionWhere(now) },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: 200,
  });
}
