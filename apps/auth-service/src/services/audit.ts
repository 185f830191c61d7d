import type { Prisma, PrismaClient } from '@mxp/db';

type Db = PrismaClient | Prisma.TransactionClient;

/** Where a request came from, as the server saw it. */
export interface RequestOrigin {
  ip: string;
  userAgent: string | undefined;
}

const USER_AGENT_MAX = 512;

export interface AttemptRecord {
  userId?: string | null;
  identifier?: string | null;
  applicationId?: string | null;
  method: 'credentials' | 'token';
  source: 'observed' | 'reported';
  success: boolean;
  reason?: string | null;
  deviceInfo?: Prisma.InputJsonValue | null;
}

/** Writes an `AuthAttempt`: observed by the service itself, or reported by a client through `POST /auth/attempts`. */
export async function recordAttempt(db: Db, attempt: AttemptRecord, origin: RequestOrigin): Promise<string> {
  const created = await db.authAttempt.create({
    data: {
      userId: attempt.userId ?? null,
      identifier: attempt.identifier?.slice(0, 320) ?? null,
      applicationId: attempt.applicationId ?? null,
      method: attempt.method,
      source: attempt.source,
      success: attempt.success,
      reason: attempt.reason ?? null,
      deviceInfo: attempt.deviceInfo ?? undefined,
      ip: origin.ip,
      userAgent: origin.userAgent?.slice(0, USER_AGENT_MAX) ?? null,
    },
    select: { id: true },
  });
  return created.id;
}

export interface LogRecord {
  userId: string;
  action: string;
  success: boolean;
  sessionId?: string | null;
  applicationId?: string | null;
  deviceInfo?: Prisma.InputJsonValue | null;
  details?: Prisma.InputJsonValue;
}

/** Writes an `AuthLog` entry of the user's security history. */
export async function recordLog(db: Db, entry: LogRecord, origin: RequestOrigin | undefined): Promise<void> {
  await db.authLog.create({
    data: {
      userId: entry.userId,
      action: entry.action,
      success: entry.success,
      sessionId: entry.sessionId ?? null,
      applicationId: entry.applicationId ?? null,
      deviceInfo: entry.deviceInfo ?? undefined,
      details: entry.details,
      ip: origin?.ip ?? null,
      userAgent: origin?.userAgent?.slice(0, USER_AGENT_MAX) ?? null,
    },
  });
}

export interface LogPage {
  entries: Array<{
    action: string;
    success: boolean;
    createdAt: Date;
    applicationId: string | null;
    deviceInfo: Prisma.JsonValue;
    sessionId: string | null;
    ip: string | null;
  }>;
  nextCursor: string | undefined;
}

/** The user's log, newest first, `limit` entries after `cursor` (an opaque position from the previous page). */
export async function listLogs(
  db: PrismaClient,
  userId: string,
  limit: number,
  cursor: string | undefined,
): Promise<LogPage | undefined> {
  const position = cursor === undefined ? undefined : decodeCursor(cursor);
  if (cursor !== undefined && position === undefined) return undefined;
  const rows = await db.authLog.findMany({
    where: {
      userId,
      ...(position
        ? {
            // The redundant `created_at <= position` is what PostgreSQL can use as a range bound of the
            // (user_id, created_at DESC, id DESC) index; the OR alone is only a filter, so a deep page walked and
            // discarded every newer row of the user (7,000 rows, 118 ms, on 10M rows; README, "Retention").
            createdAt: { lte: position.createdAt },
            OR: [{ createdAt: { lt: position.createdAt } }, { createdAt: position.createdAt, id: { lt: position.id } }],
          }
        : {}),
    },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: limit + 1,
    select: {
      id: true,
      action: true,
      success: true,
      createdAt: true,
      applicationId: true,
      deviceInfo: true,
      sessionId: true,
      ip: true,
    },
  });
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    entries: page,
    nextCursor: rows.length > limit && last ? encodeCursor(last.createdAt, last.id) : undefined,
  };
}

function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(JSON.stringify([createdAt.toISOString(), id])).toString('base64url');
}

const CURSOR_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// A position is one of our own rows: its time is in this era and its id a UUID, or the cursor is not ours.
const CURSOR_EARLIEST = Date.UTC(2000, 0, 1);
const CURSOR_LATEST = Date.UTC(9999, 11, 31);

function decodeCursor(cursor: string): { createdAt: Date; id: string } | undefined {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    const createdAt = typeof at === 'string' ? new Date(at) : undefined;
    const time = createdAt?.getTime() ?? Number.NaN;
    if (!createdAt || !(time >= CURSOR_EARLIEST && time <= CURSOR_LATEST)) return undefined;
    if (typeof id !== 'string' || !CURSOR_ID.test(id)) return undefined;
    return { createdAt, id };
  } catch {
    return undefined;
  }
}
