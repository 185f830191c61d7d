// Administration of users and their sessions (the admin CLI): create, disable/enable, set a password, list and
// revoke sessions. Every change runs in one transaction with its `auth.admin_audit` row; passwords and hashes never
// leave this module except as the stored argon2id hash.
import { randomBytes } from 'node:crypto';
import type { Prisma, PrismaClient, Session, User } from '@mxp/db';
import { AuthAdminError, recordAdminAudit } from './applications.js';
import { normalizeIdentifier } from './identifiers.js';
import { hashPassword, type PasswordHashParams } from './passwords.js';
import { activeSessionWhere, revokeSessions } from './sessions.js';

/** What administrators see of a user: never the password hash. */
export interface UserView {
  userId: string;
  username: string;
  email: string | null;
  status: 'active' | 'disabled';
  createdAt: Date;
  passwordChangedAt: Date;
}

export interface NewUser {
  username: string;
  email?: string | null;
  password: string;
}

/** Limits of a user's identifiers and password. */
export const USER_LIMITS = {
  usernameMaxLength: 100,
  emailMaxLength: 254,
  passwordMinLength: 8,
  passwordMaxLength: 1024,
} as const;

/** How long ended sessions stay in `listSessions` (active ones are always there). */
export const RECENT_SESSIONS_DAYS = 30;
const SESSION_LIST_LIMIT = 200;

const USERNAME = /^[a-z0-9._@-]+$/;
// Deliberately basic: one "@", a dot in the domain, no whitespace or control characters.
const EMAIL = /^[^\s@\p{Cc}]+@[^\s@\p{Cc}.]+(?:\.[^\s@\p{Cc}.]+)+$/u;

// Usernames and emails share one namespace at login (either is accepted), which unique indexes cannot enforce across
// the two columns: user creations are serialized by this transaction-scoped advisory lock ("mxp", "user").
const IDENTIFIER_LOCK = [0x6d7870, 0x75736572] as const;

export function toUserView(user: User): UserView {
  return {
    userId: user.id,
    username: user.username,
    email: user.email,
    status: user.status,
    createdAt: user.createdAt,
    passwordChangedAt: user.passwordChangedAt,
  };
}

/** The username as stored (trimmed, lower-cased), or INVALID_INPUT. */
export function validateUsername(raw: string): string {
  const username = normalizeIdentifier(raw);
  if (username.length === 0 || username.length > USER_LIMITS.usernameMaxLength || !USERNAME.test(username)) {
    throw new AuthAdminError(
      'INVALID_INPUT',
      `username must have 1 to ${USER_LIMITS.usernameMaxLength} characters among a-z, 0-9, ".", "_", "@" and "-"`,
    );
  }
  return username;
}

/** The email as stored (trimmed, lower-cased), or INVALID_INPUT. */
export function validateEmail(raw: string): string {
  const email = normalizeIdentifier(raw);
  if (email.length > USER_LIMITS.emailMaxLength || !EMAIL.test(email)) {
    throw new AuthAdminError(
      'INVALID_INPUT',
      `email must look like name@example.com (at most ${USER_LIMITS.emailMaxLength} characters)`,
    );
  }
  return email;
}

/** Refuses a password shorter or longer than the limits, counted in characters (not bytes); never echoes it. */
export function validatePassword(password: string): void {
  const length = [...password].length;
  if (length < USER_LIMITS.passwordMinLength || length > USER_LIMITS.passwordMaxLength) {
    throw new AuthAdminError(
      'INVALID_INPUT',
      `password must have ${USER_LIMITS.passwordMinLength} to ${USER_LIMITS.passwordMaxLength} characters (got ${length})`,
    );
  }
}

/** A random password for a user (24 URL-safe characters, 144 bits), shown once by the admin CLI. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

type Db = PrismaClient | Prisma.TransactionClient;

/** Refuses a username or email that is already a username or an email (login accepts either). */
async function assertIdentifiersFree(db: Db, username: string, email: string | null): Promise<void> {
  const usernameOwner = await db.user.findFirst({
    where: { OR: [{ username }, { email: username }] },
    select: { username: true },
  });
  if (usernameOwner) {
    throw new AuthAdminError(
      'USERNAME_TAKEN',
      usernameOwner.username === username
        ? `username ${username} is already taken`
        : `username ${username} is already the email of user ${usernameOwner.username}`,
    );
  }
  if (email === null) return;
  const emailOwner = await db.user.findFirst({
    where: { OR: [{ email }, { username: email }] },
    select: { username: true },
  });
  if (emailOwner) {
    throw new AuthAdminError(
      'EMAIL_TAKEN',
      emailOwner.username === email
        ? `email ${email} is already the username of another user`
        : `email ${email} is already used by user ${emailOwner.username}`,
    );
  }
}

/**
 * Translates Prisma's unique-index violation (P2002) on `users` into USERNAME_TAKEN or EMAIL_TAKEN; undefined for any
 * other error. It happens when another writer inserts a user between the check and the insert.
 */
export function userUniqueViolation(
  error: unknown,
  username: string,
  email: string | null,
): AuthAdminError | undefined {
  const e = error as { code?: unknown; meta?: Record<string, unknown> } | null;
  if (e?.code !== 'P2002') return undefined;
  const cause = (e.meta?.driverAdapterError as { cause?: { constraint?: unknown } } | undefined)?.cause;
  const where = JSON.stringify([e.meta?.target ?? null, cause?.constraint ?? null]);
  if (email !== null && where.includes('email')) {
    return new AuthAdminError('EMAIL_TAKEN', `email ${email} is already used by another user`);
  }
  return new AuthAdminError('USERNAME_TAKEN', `username ${username} is already taken`);
}

/** Creates an active user whose password is hashed with argon2id and the given parameters. */
export async function createUser(
  db: PrismaClient,
  params: PasswordHashParams,
  input: NewUser,
  actor?: string,
): Promise<UserView> {
  const username = validateUsername(input.username);
  const email = input.email === undefined || input.email === null ? null : validateEmail(input.email);
  validatePassword(input.password);
  // Checked before the (deliberately slow) hash so a taken name fails at once; checked again under the lock.
  await assertIdentifiersFree(db, username, email);
  const passwordHash = await hashPassword(input.password, params);
  try {
    const user = await db.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${IDENTIFIER_LOCK[0]}::int, ${IDENTIFIER_LOCK[1]}::int)`;
      await assertIdentifiersFree(tx, username, email);
      const created = await tx.user.create({ data: { username, email, passwordHash } });
      await recordAdminAudit(tx, {
        action: 'user.create',
        targetType: 'user',
        targetId: created.id,
        actor,
        details: { username, email },
      });
      return created;
    });
    return toUserView(user);
  } catch (error) {
    throw userUniqueViolation(error, username, email) ?? error;
  }
}

async function findUser(db: Db, rawUsername: string): Promise<User> {
  const username = normalizeIdentifier(rawUsername);
  const user = username ? await db.user.findUnique({ where: { username } }) : null;
  if (!user) throw new AuthAdminError('USER_NOT_FOUND', `no user named ${username || '""'}`);
  return user;
}

/** The result of a change that ends the user's sessions. */
export interface UserChange {
  user: UserView;
  /** Sessions that were still open and are now revoked. */
  sessionsRevoked: number;
}

/** Refuses the user's sign-ins from now on and revokes every session they have (reason `user_disabled`). */
export async function disableUser(
  db: PrismaClient,
  username: string,
  actor?: string,
  now: Date = new Date(),
): Promise<UserChange> {
  return db.$transaction(async (tx) => {
    const current = await findUser(tx, username);
    const user = await tx.user.update({ where: { id: current.id }, data: { status: 'disabled' } });
    const sessionsRevoked = await revokeSessions(tx, { userId: user.id }, 'user_disabled', now);
    await recordAdminAudit(tx, {
      action: 'user.disable',
      targetType: 'user',
      targetId: user.id,
      actor,
      details: { username: user.username, previousStatus: current.status, sessionsRevoked },
    });
    return { user: toUserView(user), sessionsRevoked };
  });
}

/** Allows a disabled user to sign in again (their revoked sessions stay revoked). */
export async function enableUser(db: PrismaClient, username: string, actor?: string): Promise<UserView> {
  return db.$transaction(async (tx) => {
    const current = await findUser(tx, username);
    const user = await tx.user.update({ where: { id: current.id }, data: { status: 'active' } });
    await recordAdminAudit(tx, {
      action: 'user.enable',
      targetType: 'user',
      targetId: user.id,
      actor,
      details: { username: user.username, previousStatus: current.status },
    });
    return toUserView(user);
  });
}

/** Replaces the user's password and revokes every session they have (reason `password_changed`). */
export async function setPassword(
  db: PrismaClient,
  params: PasswordHashParams,
  username: string,
  password: string,
  actor?: string,
  now: Date = new Date(),
): Promise<UserChange> {
  validatePassword(password);
  const current = await findUser(db, username);
  const passwordHash = await hashPassword(password, params);
  return db.$transaction(async (tx) => {
    const changed = await tx.user.updateMany({
      where: { id: current.id },
      data: { passwordHash, passwordChangedAt: now },
    });
    if (changed.count === 0) throw new AuthAdminError('USER_NOT_FOUND', `no user named ${current.username}`);
    const sessionsRevoked = await revokeSessions(tx, { userId: current.id }, 'password_changed', now);
    await recordAdminAudit(tx, {
      action: 'user.set_password',
      targetType: 'user',
      targetId: current.id,
      actor,
      details: { username: current.username, sessionsRevoked },
    });
    const user = await tx.user.findUniqueOrThrow({ where: { id: current.id } });
    return { user: toUserView(user), sessionsRevoked };
  });
}

/** What administrators see of a session: never a refresh token or its hash. */
export interface SessionView {
  sessionId: string;
  userId: string;
  username: string;
  applicationId: string;
  applicationName: string;
  state: 'active' | 'revoked' | 'expired';
  createdAt: Date;
  lastSeenAt: Date;
  idleExpiresAt: Date;
  absoluteExpiresAt: Date;
  revokedAt: Date | null;
  revokedReason: string | null;
  ip: string | null;
  userAgent: string | null;
  deviceInfo: Prisma.JsonValue;
  refreshCount: number;
}

type SessionWithNames = Session & { user: { username: string }; application: { name: string } };

const WITH_NAMES = { user: { select: { username: true } }, application: { select: { name: true } } } as const;

function toSessionView(session: SessionWithNames, now: Date): SessionView {
  const state =
    session.revokedAt !== null
      ? 'revoked'
      : session.idleExpiresAt > now && session.absoluteExpiresAt > now
        ? 'active'
        : 'expired';
  return {
    sessionId: session.id,
    userId: session.userId,
    username: session.user.username,
    applicationId: session.applicationId,
    applicationName: session.application.name,
    state,
    createdAt: session.createdAt,
    lastSeenAt: session.lastSeenAt,
    idleExpiresAt: session.idleExpiresAt,
    absoluteExpiresAt: session.absoluteExpiresAt,
    revokedAt: session.revokedAt,
    revokedReason: session.revokedReason,
    ip: session.ip,
    userAgent: session.userAgent,
    deviceInfo: session.deviceInfo,
    refreshCount: session.refreshCount,
  };
}

/**
 * The user's active sessions and those that ended (revoked or expired) in the last {@link RECENT_SESSIONS_DAYS}
 * days, newest first (at most 200).
 */
export async function listSessions(
  db: PrismaClient,
  username: string,
  now: Date = new Date(),
): Promise<{ user: UserView; sessions: SessionView[] }> {
  const user = await findUser(db, username);
  const since = new Date(now.getTime() - RECENT_SESSIONS_DAYS * 86_400_000);
  const sessions = await db.session.findMany({
    where: {
      userId: user.id,
      OR: [
        activeSessionWhere(now),
        { revokedAt: { gte: since } },
        // Expired: it ended at the earlier of its two expiries.
        { revokedAt: null, idleExpiresAt: { gte: since }, absoluteExpiresAt: { gte: since } },
      ],
    },
    include: WITH_NAMES,
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: SESSION_LIST_LIMIT,
  });
  return { user: toUserView(user), sessions: sessions.map((session) => toSessionView(session, now)) };
}

/**
 * Revokes one session and its refresh tokens (reason `admin`). A session already revoked is left as it is
 * (`revoked: false`, nothing audited).
 */
export async function revokeSession(
  db: PrismaClient,
  sessionId: string,
  actor?: string,
  now: Date = new Date(),
): Promise<{ session: SessionView; revoked: boolean }> {
  return db.$transaction(async (tx) => {
    const current = await tx.session.findUnique({ where: { id: sessionId }, include: WITH_NAMES });
    if (!current) throw new AuthAdminError('SESSION_NOT_FOUND', `no session with id ${sessionId}`);
    if (current.revokedAt !== null) return { session: toSessionView(current, now), revoked: false };
    const wasActive = toSessionView(current, now).state === 'active';
    await revokeSessions(tx, { id: current.id }, 'admin', now);
    await recordAdminAudit(tx, {
      action: 'session.revoke',
      targetType: 'session',
      targetId: current.id,
      actor,
      details: {
        userId: current.userId,
        username: current.user.username,
        applicationId: current.applicationId,
        wasActive,
      },
    });
    const revoked = await tx.session.findUniqueOrThrow({ where: { id: current.id }, include: WITH_NAMES });
    return { session: toSessionView(revoked, now), revoked: true };
  });
}
