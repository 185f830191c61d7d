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

export type RefreshOutcome =
  | { ok: true; session: Session & { application: Application }; refreshToken: string | undefined }
  | { ok: false; reason: 'unknown' | 'inactive' | 'concurrent_reuse' | 'reuse_detected' };

/**
 * Exchanges a refresh token. With rotation on (the default), the token is spent and a successor is returned; the
 * spend is a conditional update, so of two concurrent refreshes with one token exactly one succeeds. A spent token
 * presented again within `reuseGraceSeconds` is refused (a client retrying); later, it means the token was stolen
 * and the whole session is revoked.
 */
export async function refreshSession(
  db: PrismaClient,
  rawToken: string,
  reuseGraceSeconds: number,
  origin: RequestOrigin,
  now: Date,
): Promise<RefreshOutcome> {
  const stored = await db.refreshToken.findUnique({
    where: { tokenHash: hashRefreshToken(rawToken) },
    include: { session: { include: { application: true, user: { select: { status: true } } } } },
  });
  if (!stored) return { ok: false, reason: 'unknown' };
  const { session } = stored;
  const sessionActive =
    session.revokedAt === null &&
    session.idleExpiresAt > now &&
    session.absoluteExpiresAt > now &&
    session.user.status === 'active' &&
    session.application.status === 'active';
  if (!sessionActive || stored.revokedAt !== null || stored.expiresAt <= now) return { ok: false, reason: 'inactive' };
  const rotate = session.application.rotateRefreshTokens;
  if (rotate && stored.rotatedAt !== null) return spentTokenPresented(db, stored, reuseGraceSeconds, origin, now);

  return db
    .$transaction(async (tx) => {
      // The session row is locked first, as logout (revokeSessions) does, so the two never deadlock; the update is
      // conditional on the session still being open, so a logout that won the race keeps it revoked.
      const touched = await tx.session.updateMany({
        where: { id: session.id, revokedAt: null },
        data: {
          lastSeenAt: now,
          idleExpiresAt: idleExpiry(session.application, session.absoluteExpiresAt, now),
          refreshCount: { increment: 1 },
        },
      });
      if (touched.count === 0) throw new RefreshAborted('inactive');
      let refreshToken: string | undefined;
      if (rotate) {
        const claimed = await tx.refreshToken.updateMany({
          where: { id: stored.id, rotatedAt: null, revokedAt: null },
          data: { rotatedAt: now },
        });
        if (claimed.count === 0) throw new RefreshAborted('concurrent_reuse');
        refreshToken = generateRefreshToken();
        await tx.refreshToken.create({
          data: {
            sessionId: session.id,
            familyId: stored.familyId,
            parentId: stored.id,
            tokenHash: hashRefreshToken(refreshToken),
            createdAt: now,
            expiresAt: session.absoluteExpiresAt,
          },
        });
      }
      await recordLog(
        tx,
        {
          userId: session.userId,
          action: 'refresh',
          success: true,
          sessionId: session.id,
          applicationId: session.applicationId,
        },
        origin,
      );
      const updated = await tx.session.findUniqueOrThrow({ where: { id: session.id }, include: { application: true } });
      return { ok: true as const, session: updated, refreshToken };
    })
    .catch((error: unknown) => {
      // Rolled back: neither the session's activity nor a spent token is kept.
      if (error instanceof RefreshAborted) return { ok: false as const, reason: error.reason };
      throw error;
    });
}

class RefreshAborted extends Error {
  constructor(readonly reason: 'inactive' | 'concurrent_reuse') {
    super(reason);
  }
}

async function spentTokenPresented(
  db: PrismaClient,
  stored: { id: string; rotatedAt: Date | null; session: Session },
  reuseGraceSeconds: number,
  origin: RequestOrigin,
  now: Date,
): Promise<RefreshOutcome> {
  const spentAt = stored.rotatedAt?.getTime() ?? 0;
  if (now.getTime() - spentAt <= reuseGraceSeconds * 1000) return { ok: false, reason: 'concurrent_reuse' };
  await db.$transaction(async (tx) => {
    await revokeSessions(tx, { id: stored.session.id }, 'refresh_token_reuse', now);
    await recordLog(
      tx,
      {
        userId: stored.session.userId,
        action: 'refresh_token_reuse',
        success: false,
        sessionId: stored.session.id,
        applicationId: stored.session.applicationId,
        details: { refreshTokenId: stored.id },
      },
      origin,
    );
  });
  return { ok: false, reason: 'reuse_detected' };
}

/** Revokes the matching open sessions and every refresh token of them; returns how many sessions were open. */
export async function revokeSessions(
  db: Db,
  where: Prisma.SessionWhereInput,
  reason: string,
  now: Date,
): Promise<number> {
  const open = await db.session.findMany({ where: { ...where, revokedAt: null }, select: { id: true } });
  if (open.length === 0) return 0;
  const ids = open.map((session) => session.id);
  await db.session.updateMany({
    where: { id: { in: ids }, revokedAt: null },
    data: { revokedAt: now, revokedReason: reason },
  });
  await db.refreshToken.updateMany({ where: { sessionId: { in: ids }, revokedAt: null }, data: { revokedAt: now } });
  return ids.length;
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
