// refreshSession against a real database: the outcome of every case (the route answers them all with one 401), what
// a refresh writes, and what a refresh that fails leaves behind (nothing), including the interleavings with a
// concurrent winner or logout forced with row locks held from outside.
import { type Application, type PrismaClient, pgPoolOf } from '@mxp/db';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RequestOrigin } from '../../src/services/audit.js';
import { refreshSession } from '../../src/services/refresh.js';
import { openSession, revokeSessions } from '../../src/services/sessions.js';
import { generateRefreshToken, hashRefreshToken } from '../../src/services/tokens.js';
import { startTestApp } from '../helpers.js';
import { createApplication, createUser, type TestUser } from '../routes/support.js';

// Lets one test make the successor token collide with an existing one (a failure in the middle of the refresh).
vi.mock('../../src/services/tokens.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/services/tokens.js')>();
  return { ...actual, generateRefreshToken: vi.fn(actual.generateRefreshToken) };
});

const GRACE = 10;
const ORIGIN: RequestOrigin = { ip: '10.1.2.3', userAgent: 'refresh-test' };
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let testApp: Awaited<ReturnType<typeof startTestApp>>;
let db: PrismaClient;
let user: TestUser;
let application: Application;

beforeAll(async () => {
  testApp = await startTestApp();
  db = testApp.db;
  user = await createUser(db);
  application = await createApplication(db, { idleTimeoutSeconds: 60, absoluteTimeoutSeconds: 150 });
});
afterAll(async () => {
  await testApp?.close();
});

/** A session opened at `at` (ms) as a login would, with its first refresh token. */
async function open(at: number, input: { userId?: string; application?: Application } = {}) {
  const { session, refreshToken } = await openSession(
    db,
    {
      userId: input.userId ?? user.id,
      application: input.application ?? application,
      deviceInfo: undefined,
      origin: ORIGIN,
    },
    new Date(at),
  );
  return { sessionId: session.id, refreshToken };
}

/** Everything a refresh writes: the session row, its tokens and its 'refresh' log entries. */
async function trace(sessionId: string) {
  const session = await db.session.findUniqueOrThrow({ where: { id: sessionId } });
  const tokens = await db.refreshToken.findMany({ where: { sessionId }, orderBy: { createdAt: 'asc' } });
  const logs = await db.authLog.findMany({ where: { sessionId, action: 'refresh' } });
  return { session, tokens, logs };
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

describe('refreshSession', () => {
  it('rotates: spends the token, stores its successor, extends the idle expiry, counts and logs the refresh', async () => {
    const start = Date.now() - 60_000;
    const { sessionId, refreshToken } = await open(start);
    const now = new Date(start + 30_000);
    const before = Date.now();
    const outcome = await refreshSession(db, refreshToken, GRACE, { ip: '10.9.9.9', userAgent: 'x'.repeat(600) }, now);
    const after = Date.now();

    expect(outcome).toEqual({
      ok: true,
      session: {
        id: sessionId,
        userId: user.id,
        applicationId: application.id,
        absoluteExpiresAt: new Date(start + 150_000),
        accessTokenTtlSeconds: application.accessTokenTtlSeconds,
      },
      refreshToken: expect.any(String),
    });
    const successor = outcome.ok ? (outcome.refreshToken as string) : '';
    expect(successor).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const { session, tokens, logs } = await trace(sessionId);
    expect(session).toMatchObject({
      lastSeenAt: now,
      idleExpiresAt: new Date(start + 90_000),
      refreshCount: 1,
      revokedAt: null,
    });
    expect(tokens).toHaveLength(2);
    const [spent, next] = tokens;
    expect(spent).toMatchObject({ tokenHash: hashRefreshToken(refreshToken), rotatedAt: now, revokedAt: null });
    expect(next).toMatchObject({
      tokenHash: hashRefreshToken(successor),
      familyId: spent?.familyId,
      parentId: spent?.id,
      createdAt: now,
      expiresAt: new Date(start + 150_000),
      rotatedAt: null,
      revokedAt: null,
    });
    expect(next?.id).toMatch(UUID_V7);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({
      userId: user.id,
      applicationId: application.id,
      success: true,
      ip: '10.9.9.9',
      userAgent: 'x'.repeat(512),
      deviceInfo: null,
      details: null,
    });
    expect(logs[0]?.id).toMatch(UUID_V7);
    // Written when the refresh was, as Prisma's default would have it.
    expect(logs[0]?.createdAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(logs[0]?.createdAt.getTime()).toBeLessThanOrEqual(after);

    // The successor is good for the next refresh.
    const second = await refreshSession(db, successor, GRACE, ORIGIN, new Date(start + 40_000));
    expect(second.ok).toBe(true);
    expect((await trace(sessionId)).session.refreshCount).toBe(2);
  });

  it('refreshes alike through Prisma on a client without a pool of its own', async () => {
    const start = Date.now() - 60_000;
    const { sessionId, refreshToken } = await open(start);
    // The service's client has one (every other test here goes through it); an extended client does not.
    expect(pgPoolOf(db)).toBeDefined();
    const extended = db.$extends({}) as unknown as PrismaClient;
    expect(pgPoolOf(extended)).toBeUndefined();
    const outcome = await refreshSession(extended, refreshToken, GRACE, ORIGIN, new Date(start + 30_000));
    expect(outcome).toMatchObject({
      ok: true,
      session: { id: sessionId, absoluteExpiresAt: new Date(start + 150_000) },
    });
    const { session, tokens, logs } = await trace(sessionId);
    expect(session).toMatchObject({ refreshCount: 1, lastSeenAt: new Date(start + 30_000) });
    expect(tokens.map((token) => token.rotatedAt)).toEqual([new Date(start + 30_000), null]);
    expect(logs).toHaveLength(1);
    expect(await refreshSession(extended, refreshToken, GRACE, ORIGIN, new Date(start + 31_000))).toEqual({
      ok: false,
      reason: 'concurrent_reuse',
    });
  });

  it('never extends the idle expiry past the absolute one', async () => {
    const start = Date.now() - 120_000;
    const { sessionId, refreshToken } = await open(start);
    const first = await refreshSession(db, refreshToken, GRACE, ORIGIN, new Date(start + 55_000));
    expect((await trace(sessionId)).session.idleExpiresAt).toEqual(new Date(start + 115_000));
    const successor = first.ok ? (first.refreshToken as string) : '';
    expect((await refreshSession(db, successor, GRACE, ORIGIN, new Date(start + 100_000))).ok).toBe(true);
    expect((await trace(sessionId)).session.idleExpiresAt).toEqual(new Date(start + 150_000));
  });

  it('without rotation: no successor, the same token keeps working and every refresh counts', async () => {
    const fixed = await createApplication(db, { rotateRefreshTokens: false });
    const start = Date.now();
    const { sessionId, refreshToken } = await open(start, { application: fixed });
    for (let i = 1; i <= 3; i++) {
      const outcome = await refreshSession(db, refreshToken, GRACE, ORIGIN, new Date(start + i * 1_000));
      expect(outcome).toMatchObject({ ok: true, refreshToken: undefined });
    }
    const { session, tokens, logs } = await trace(sessionId);
    expect(session.refreshCount).toBe(3);
    expect(session.lastSeenAt.getTime()).toBe(start + 3_000);
    expect(tokens).toHaveLength(1);
    expect(tokens[0]?.rotatedAt).toBeNull();
    expect(logs).toHaveLength(3);
  });

  it("answers 'unknown' for a token it never issued", async () => {
    expect(await refreshSession(db, generateRefreshToken(), GRACE, ORIGIN, new Date())).toEqual({
      ok: false,
      reason: 'unknown',
    });
  });

  describe("answers 'inactive', writing nothing, when", () => {
    const cases: Array<[string, (opened: { sessionId: string }, start: number) => Promise<unknown>, number?]> = [
      [
        'the session was revoked',
        ({ sessionId }) => db.session.update({ where: { id: sessionId }, data: { revokedAt: new Date() } }),
      ],
      ['the session is idle past its idle expiry', async () => undefined, 61_000],
      [
        'the session is past its absolute expiry (however recent its activity)',
        ({ sessionId }, start) =>
          db.session.update({ where: { id: sessionId }, data: { idleExpiresAt: new Date(start + 200_000) } }),
        151_000,
      ],
      [
        'the token was revoked',
        ({ sessionId }) => db.refreshToken.updateMany({ where: { sessionId }, data: { revokedAt: new Date() } }),
      ],
      [
        'the token expired',
        ({ sessionId }, start) =>
          db.refreshToken.updateMany({ where: { sessionId }, data: { expiresAt: new Date(start + 10_000) } }),
        10_000,
      ],
    ];
    for (const [name, arrange, after = 1_000] of cases) {
      it(name, async () => {
        const start = Date.now();
        const opened = await open(start);
        await arrange(opened, start);
        const before = await trace(opened.sessionId);
        const outcome = await refreshSession(db, opened.refreshToken, GRACE, ORIGIN, new Date(start + after));
        expect(outcome).toEqual({ ok: false, reason: 'inactive' });
        expect(await trace(opened.sessionId)).toEqual(before);
      });
    }

    it('the user is disabled, or the application', async () => {
      const other = await createUser(db);
      const disabledLater = await createApplication(db);
      const start = Date.now();
      const ofUser = await open(start, { userId: other.id });
      const ofApplication = await open(start, { application: disabledLater });
      await db.user.update({ where: { id: other.id }, data: { status: 'disabled' } });
      await db.application.update({ where: { id: disabledLater.id }, data: { status: 'disabled' } });
      for (const opened of [ofUser, ofApplication]) {
        const before = await trace(opened.sessionId);
        expect(await refreshSession(db, opened.refreshToken, GRACE, ORIGIN, new Date(start + 1_000))).toEqual({
          ok: false,
          reason: 'inactive',
        });
        expect(await trace(opened.sessionId)).toEqual(before);
      }
    });
  });

  it("a spent token: 'concurrent_reuse' up to the grace period, then 'reuse_detected', which revokes the session", async () => {
    const start = Date.now() - 60_000;
    const { sessionId, refreshToken } = await open(start);
    expect((await refreshSession(db, refreshToken, GRACE, ORIGIN, new Date(start + 1_000))).ok).toBe(true);
    const afterRotation = await trace(sessionId);

    // Up to and including the last millisecond of the grace period: refused, nothing written.
    for (const at of [1_000, 5_000, 1_000 + GRACE * 1_000]) {
      expect(await refreshSession(db, refreshToken, GRACE, ORIGIN, new Date(start + at))).toEqual({
        ok: false,
        reason: 'concurrent_reuse',
      });
    }
    expect(await trace(sessionId)).toEqual(afterRotation);

    const reused = await refreshSession(db, refreshToken, GRACE, ORIGIN, new Date(start + 1_001 + GRACE * 1_000));
    expect(reused).toEqual({ ok: false, reason: 'reuse_detected' });
    const { session, tokens } = await trace(sessionId);
    expect(session).toMatchObject({ revokedReason: 'refresh_token_reuse', refreshCount: 1 });
    for (const token of tokens) expect(token.revokedAt).toEqual(new Date(start + 1_001 + GRACE * 1_000));
    const reuseLogs = await db.authLog.findMany({ where: { sessionId, action: 'refresh_token_reuse' } });
    expect(reuseLogs).toMatchObject([
      {
        userId: user.id,
        success: false,
        applicationId: application.id,
        ip: ORIGIN.ip,
        details: { refreshTokenId: tokens[0]?.id },
      },
    ]);
  });

  it('of 10 concurrent refreshes with one token, exactly one succeeds and it alone is written', async () => {
    for (let round = 0; round < 3; round++) {
      const start = Date.now();
      const { sessionId, refreshToken } = await open(start);
      const now = new Date(start + 1_000);
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, () => refreshSession(db, refreshToken, GRACE, ORIGIN, now)),
      );
      expect(outcomes.filter((outcome) => outcome.ok)).toHaveLength(1);
      expect(outcomes.filter((outcome) => !outcome.ok)).toEqual(
        Array(9).fill({ ok: false, reason: 'concurrent_reuse' }),
      );
      const { session, tokens, logs } = await trace(sessionId);
      expect(session).toMatchObject({ refreshCount: 1, revokedAt: null });
      expect(tokens).toHaveLength(2);
      expect(logs).toHaveLength(1);
    }
  });

  // The spend is checked after the session row is locked: a refresh that loses it there (the winner committed while
  // it waited) must leave the session's activity as it was, since the refresh it would have counted did not happen.
  it('losing the claim after locking the session leaves nothing: no activity, no successor, no log', async () => {
    const start = Date.now() - 60_000;
    const { sessionId, refreshToken } = await open(start);
    const before = await trace(sessionId);
    const [token] = before.tokens;
    let refreshing: Promise<unknown> | undefined;
    await db.$transaction(
      async (tx) => {
        // A concurrent refresh holds the token row and spends it.
        await tx.$queryRaw`SELECT id FROM auth.refresh_tokens WHERE id = ${token?.id} FOR UPDATE`;
        refreshing = refreshSession(db, refreshToken, GRACE, ORIGIN, new Date(start + 30_000));
        // This refresh now waits for the token row, holding the session row (locked first, as logout does).
        await lockWaiters(1);
        await expect(
          db.$queryRaw`SELECT id FROM auth.sessions WHERE id = ${sessionId} FOR NO KEY UPDATE NOWAIT`,
        ).rejects.toThrow(/could not obtain lock/);
        await tx.refreshToken.update({ where: { id: token?.id }, data: { rotatedAt: new Date(start + 29_000) } });
      },
      { timeout: 10_000 },
    );
    expect(await refreshing).toEqual({ ok: false, reason: 'concurrent_reuse' });
    const { session, tokens, logs } = await trace(sessionId);
    expect(session).toEqual(before.session);
    expect(tokens).toHaveLength(1);
    expect(logs).toEqual([]);
  });

  // Logout locks the session row first too; a refresh waiting for it finds the session revoked and leaves nothing.
  it("a logout holding the session row wins: 'inactive', nothing written, and no deadlock", async () => {
    const start = Date.now() - 60_000;
    const { sessionId, refreshToken } = await open(start);
    let refreshing: Promise<unknown> | undefined;
    await db.$transaction(
      async (tx) => {
        await revokeSessions(tx, { id: sessionId }, 'logout', new Date(start + 30_000));
        refreshing = refreshSession(db, refreshToken, GRACE, ORIGIN, new Date(start + 30_000));
        await lockWaiters(1);
      },
      { timeout: 10_000 },
    );
    expect(await refreshing).toEqual({ ok: false, reason: 'inactive' });
    const { session, tokens, logs } = await trace(sessionId);
    expect(session).toMatchObject({ revokedReason: 'logout', refreshCount: 0, lastSeenAt: new Date(start) });
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatchObject({ rotatedAt: null, revokedAt: new Date(start + 30_000) });
    expect(logs).toEqual([]);
  });

  it('a failure midway (the successor cannot be stored) rolls the whole refresh back', async () => {
    const start = Date.now() - 60_000;
    const { sessionId, refreshToken } = await open(start);
    const taken = await open(start);
    const before = await trace(sessionId);
    // The successor collides with the other session's token: its insert fails after the spend.
    vi.mocked(generateRefreshToken).mockReturnValueOnce(taken.refreshToken);
    await expect(refreshSession(db, refreshToken, GRACE, ORIGIN, new Date(start + 30_000))).rejects.toThrow();
    expect(await trace(sessionId)).toEqual(before);
    // Nothing was spent: the token still works.
    expect((await refreshSession(db, refreshToken, GRACE, ORIGIN, new Date(start + 31_000))).ok).toBe(true);
  });
});
