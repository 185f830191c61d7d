// openSession against a real database: what a login writes in its one statement (auth.open_session), and what a
// login that fails leaves behind (nothing, the account's backoff failures included), including a disable or password
// change that wins the user row while the session is being opened, forced with row locks held from outside.
import { type Application, type PrismaClient, pgPoolOf } from '@mxp/db';
import { reserveAttempt } from '@mxp/db/backoff';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AttemptRecord, RequestOrigin } from '../../src/services/audit.js';
import { type NewSession, openSession, SessionRefused } from '../../src/services/sessions.js';
import { generateRefreshToken, hashRefreshToken } from '../../src/services/tokens.js';
import { startTestApp } from '../helpers.js';
import { createApplication, createUser, type TestUser } from '../routes/support.js';

// Lets one test make the first refresh token collide with an existing one (a failure in the middle of the login).
vi.mock('../../src/services/tokens.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/services/tokens.js')>();
  return { ...actual, generateRefreshToken: vi.fn(actual.generateRefreshToken) };
});

const ORIGIN: RequestOrigin = { ip: '10.4.5.6', userAgent: 'u'.repeat(600) };
const DEVICE = { browser: 'Firefox', os: 'Linux', nested: { screen: [1920, 1080] } };
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const POLICY = { maxFailures: 5, baseSeconds: 30, maxSeconds: 900, resetSeconds: 900 };

let testApp: Awaited<ReturnType<typeof startTestApp>>;
let db: PrismaClient;
let application: Application;

beforeAll(async () => {
  testApp = await startTestApp();
  db = testApp.db;
  application = await createApplication(db, { idleTimeoutSeconds: 60, absoluteTimeoutSeconds: 150 });
});
afterAll(async () => {
  await testApp?.close();
});

/** The `passwordChangedAt` a login would have checked the password against. */
async function passwordChangedAt(userId: string): Promise<Date> {
  return (await db.user.findUniqueOrThrow({ where: { id: userId } })).passwordChangedAt;
}

/** A user with counted failures (as a login's reservation leaves them), and what a login of theirs would open. */
async function signingIn(overrides: Partial<NewSession> = {}) {
  const user = await createUser(db);
  const backoffKey = `user:${user.id}`;
  for (let i = 0; i < 3; i++) await reserveAttempt(db, 'auth.credential_backoff', backoffKey, POLICY);
  const attempt: AttemptRecord = {
    userId: user.id,
    identifier: `${user.username}-${'i'.repeat(400)}`,
    applicationId: application.id,
    method: 'credentials',
    source: 'observed',
    success: true,
    reason: 'login',
    deviceInfo: DEVICE,
  };
  const input: NewSession = {
    userId: user.id,
    application,
    deviceInfo: DEVICE,
    origin: ORIGIN,
    attempt,
    passwordCheckedAgainst: await passwordChangedAt(user.id),
    backoffKey,
    ...overrides,
  };
  return { user, input };
}

/** Everything a login writes for a user: sessions, their refresh tokens, attempts, log entries, backoff row. */
async function trace(user: TestUser) {
  const sessions = await db.session.findMany({ where: { userId: user.id } });
  return {
    sessions,
    tokens: await db.refreshToken.findMany({ where: { sessionId: { in: sessions.map((session) => session.id) } } }),
    attempts: await db.authAttempt.findMany({ where: { userId: user.id } }),
    logs: await db.authLog.findMany({ where: { userId: user.id } }),
    backoff: await db.credentialBackoff.findUnique({ where: { key: `user:${user.id}` } }),
  };
}

/** Waits until `count` connections of the test database wait on a lock (or gives up after `ms`, without failing). */
async function lockWaiters(count: number, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const [row] = await db.$queryRaw<Array<{ n: number }>>`
      SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock'`;
    if ((row?.n ?? 0) >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('openSession', () => {
  it('writes the session, its first refresh token, the attempt and the login entry, and forgets the failures', async () => {
    const { user, input } = await signingIn();
    const other = await signingIn();
    expect((await trace(user)).backoff).toMatchObject({ failures: 3 });
    const now = new Date(Date.now() - 10_000);
    const before = Date.now();
    const { session, refreshToken } = await openSession(db, input, now);
    const after = Date.now();

    const written = await trace(user);
    // What it returns is the row as stored.
    expect(written.sessions).toEqual([session]);
    expect(session).toEqual({
      id: expect.stringMatching(UUID_V7),
      userId: user.id,
      applicationId: application.id,
      deviceInfo: DEVICE,
      ip: ORIGIN.ip,
      userAgent: 'u'.repeat(512),
      refreshCount: 0,
      createdAt: now,
      lastSeenAt: now,
      idleExpiresAt: new Date(now.getTime() + 60_000),
      absoluteExpiresAt: new Date(now.getTime() + 150_000),
      revokedAt: null,
      revokedReason: null,
    });
    expect(refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(written.tokens).toEqual([
      {
        id: expect.stringMatching(UUID_V7),
        sessionId: session.id,
        familyId: session.id,
        tokenHash: hashRefreshToken(refreshToken),
        parentId: null,
        createdAt: now,
        expiresAt: new Date(now.getTime() + 150_000),
        rotatedAt: null,
        revokedAt: null,
      },
    ]);
    expect(written.attempts).toEqual([
      {
        id: expect.stringMatching(UUID_V7),
        userId: user.id,
        identifier: input.attempt?.identifier?.slice(0, 320),
        applicationId: application.id,
        method: 'credentials',
        source: 'observed',
        success: true,
        reason: 'login',
        ip: ORIGIN.ip,
        userAgent: 'u'.repeat(512),
        deviceInfo: DEVICE,
        createdAt: expect.any(Date),
      },
    ]);
    expect(written.logs).toEqual([
      {
        id: expect.stringMatching(UUID_V7),
        userId: user.id,
        sessionId: session.id,
        applicationId: application.id,
        action: 'login',
        success: true,
        ip: ORIGIN.ip,
        userAgent: 'u'.repeat(512),
        deviceInfo: DEVICE,
        details: null,
        createdAt: expect.any(Date),
      },
    ]);
    // Written when the login was, as Prisma's defaults would have it.
    for (const row of [...written.attempts, ...written.logs]) {
      expect(row.createdAt.getTime()).toBeGreaterThanOrEqual(before);
      expect(row.createdAt.getTime()).toBeLessThanOrEqual(after);
    }
    expect(written.backoff).toBeNull();
    // Another account's failures are its own.
    expect((await trace(other.user)).backoff).toMatchObject({ failures: 3 });
  });

  it('without an attempt, a device or a backoff key: the session, its token and the log entry only', async () => {
    const { user, input } = await signingIn({
      attempt: undefined,
      deviceInfo: undefined,
      backoffKey: undefined,
      passwordCheckedAgainst: undefined,
      origin: { ip: '10.0.0.1', userAgent: undefined },
    });
    const { session } = await openSession(db, input, new Date());
    const written = await trace(user);
    expect(written.sessions).toEqual([session]);
    expect(session).toMatchObject({ deviceInfo: null, userAgent: null, ip: '10.0.0.1' });
    expect(written.tokens).toHaveLength(1);
    expect(written.attempts).toEqual([]);
    expect(written.logs).toMatchObject([{ action: 'login', deviceInfo: null, userAgent: null, sessionId: session.id }]);
    expect(written.backoff).toMatchObject({ failures: 3 });
  });

  it('opens alike through Prisma on a client without a pool of its own', async () => {
    const { user, input } = await signingIn();
    const extended = db.$extends({}) as unknown as PrismaClient;
    expect(pgPoolOf(db)).toBeDefined();
    expect(pgPoolOf(extended)).toBeUndefined();
    const { session } = await openSession(extended, input, new Date());
    const written = await trace(user);
    expect(written.sessions).toEqual([session]);
    expect(written.tokens).toHaveLength(1);
    expect(written.attempts).toMatchObject([{ deviceInfo: DEVICE, reason: 'login' }]);
    expect(written.logs).toMatchObject([{ sessionId: session.id, deviceInfo: DEVICE }]);
    expect(written.backoff).toBeNull();
  });

  describe('refuses (SessionRefused), writing nothing and keeping the failures, when the user', () => {
    const cases: Array<[string, (user: TestUser) => Promise<unknown>]> = [
      ['was disabled', (user) => db.user.update({ where: { id: user.id }, data: { status: 'disabled' } })],
      [
        'changed password since it was checked',
        (user) => db.user.update({ where: { id: user.id }, data: { passwordChangedAt: new Date() } }),
      ],
      ['was deleted', (user) => db.user.delete({ where: { id: user.id } })],
    ];
    for (const [name, change] of cases) {
      it(name, async () => {
        const { user, input } = await signingIn();
        await change(user);
        const before = await trace(user);
        await expect(openSession(db, input, new Date())).rejects.toBeInstanceOf(SessionRefused);
        expect(await trace(user)).toEqual(before);
      });
    }
  });

  // The user row is locked FOR SHARE first: a disable or password change that holds it makes the login wait, then
  // see the change, and be refused; one that comes after waits for the session, which it then revokes.
  describe('a change holding the user row wins: refused, nothing written, and no deadlock', () => {
    const changes: Array<[string, { status: 'disabled' } | { passwordChangedAt: Date }]> = [
      ['a disable', { status: 'disabled' }],
      ['a password change', { passwordChangedAt: new Date(Date.now() + 1_000) }],
    ];
    for (const [name, data] of changes) {
      it(name, async () => {
        const { user, input } = await signingIn();
        const before = await trace(user);
        let opening: Promise<unknown> | undefined;
        await db.$transaction(
          async (tx) => {
            await tx.$queryRaw`SELECT id FROM auth.users WHERE id = ${user.id} FOR UPDATE`;
            opening = openSession(db, input, new Date()).then(
              () => 'opened',
              (error: unknown) => error,
            );
            await lockWaiters(1);
            await tx.user.update({ where: { id: user.id }, data });
          },
          { timeout: 10_000 },
        );
        expect(await opening).toBeInstanceOf(SessionRefused);
        expect(await trace(user)).toEqual(before);
      });
    }
  });

  describe('a failure midway rolls the whole login back, the failures included', () => {
    it('the first refresh token cannot be stored (after the session was)', async () => {
      const { user, input } = await signingIn();
      const taken = await openSession(db, (await signingIn()).input, new Date());
      const before = await trace(user);
      vi.mocked(generateRefreshToken).mockReturnValueOnce(taken.refreshToken);
      await expect(openSession(db, input, new Date())).rejects.toThrow(/token_hash|unique/i);
      expect(await trace(user)).toEqual(before);
      expect(before.backoff).toMatchObject({ failures: 3 });
      // Nothing of it stayed: the same login succeeds now.
      expect((await openSession(db, input, new Date())).session.userId).toBe(user.id);
    });

    it('the attempt cannot be stored (after the session and its token were)', async () => {
      const { user, input } = await signingIn();
      const before = await trace(user);
      const attempt = { ...(input.attempt as AttemptRecord), userId: 'no-such-user' };
      await expect(openSession(db, { ...input, attempt }, new Date())).rejects.toThrow(/foreign key|user_id/i);
      expect(await trace(user)).toEqual(before);
      expect(await db.authAttempt.count({ where: { userId: 'no-such-user' } })).toBe(0);
    });
  });

  it('concurrent logins of one user each open their own session, and the failures are forgotten', async () => {
    const { user, input } = await signingIn();
    const opened = await Promise.all(Array.from({ length: 8 }, () => openSession(db, input, new Date())));
    const written = await trace(user);
    expect(new Set(opened.map(({ session }) => session.id)).size).toBe(8);
    expect(written.sessions).toHaveLength(8);
    expect(written.tokens).toHaveLength(8);
    expect(written.attempts).toHaveLength(8);
    expect(written.logs).toHaveLength(8);
    expect(written.backoff).toBeNull();
  });
});
