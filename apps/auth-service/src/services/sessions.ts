import type { Application, Prisma, PrismaClient, Session } from '@mxp/db';
import { type AttemptRecord, type RequestOrigin, recordAttempt, recordLog } from './audit.js';
import { generateRefreshToken, hashRefreshToken } from './tokens.js';

type Db = PrismaClient | Prisma.TransactionClient;

/** A session is active until revoked, idle for its application's idle timeout, or past its absolute timeout. */
export function activeSessionWhere(now: Date): Prisma.SessionWhereInput {
  return { revokedAt: null, idleExpiresAt: { gt: now }, absoluteExpiresAt: { gt: now } };
}

function idleExpiry(application: Application, absoluteExpiresAt: Date, now: Date): Date {
  return new Date(Math.min(now.getTime() + application.idleTimeoutSeconds * 1000, absoluteExpiresAt.getTime()));
}

/**
 * Opens a session for a signed-in user on one device and application, with its first refresh token, and records the
 * successful attempt and the login in the same transaction (all of it or nothing).
 */
export async function openSession(
  db: PrismaClient,
  input: {
    userId: string;
    application: Application;
    deviceInfo: Prisma.InputJsonValue | undefined;
    origin: RequestOrigin;
    /** The observed attempt that led here, recorded with the session. */
    attempt?: AttemptRecord;
    /** `passwordChangedAt` of the user when the password was checked: a change since then refuses the session. */
    passwordCheckedAgainst?: Date;
  },
  now: Date,
): Promise<{ session: Session; refreshToken: string }> {
  const absoluteExpiresAt = new Date(now.getTime() + input.application.absoluteTimeoutSeconds * 1000);
  const refreshToken = generateRefreshToken();
  const session = await db.$transaction(async (tx) => {
    // Locks the user row against a concurrent disable or password change (which revoke sessions) until this
    // session is committed, and refuses if one happened since the password was checked.
    const [user] = await tx.$queryRaw<{ status: string; password_changed_at: Date }[]>`
      SELECT status, password_changed_at FROM auth.users WHERE id = ${input.userId} FOR SHARE`;
    const changed =
      input.passwordCheckedAgainst !== undefined &&
      user?.password_changed_at.getTime() !== input.passwordCheckedAgainst.getTime();
    if (user?.status !== 'active' || changed) throw new SessionRefused();
    const created = await tx.session.create({
      data: {
        userId: input.userId,
        applicationId: input.application.id,
        deviceInfo: input.deviceInfo,
        ip: input.origin.ip,
        userAgent: input.origin.userAgent?.slice(0, 512) ?? null,
        createdAt: now,
        lastSeenAt: now,
        idleExpiresAt: idleExpiry(input.application, absoluteExpiresAt, now),
        absoluteExpiresAt,
      },
    });
    await tx.refreshToken.create({
      data: {
        sessionId: created.id,
        familyId: created.id,
        tokenHash: hashRefreshToken(refreshToken),
        createdAt: now,
        expiresAt: absoluteExpiresAt,
      },
    });
    if (input.attempt) await recordAttempt(tx, input.attempt, input.origin);
    await recordLog(
      tx,
      {
        userId: input.userId,
        action: 'login',
        success: true,
        sessionId: created.id,
        applicationId: input.application.id,
        deviceInfo: input.deviceInfo,
      },
      input.origin,
    );
    return created;
  });
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
