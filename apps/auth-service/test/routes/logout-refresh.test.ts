import type { PrismaClient } from '@mxp/db';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  atTime,
  bearer,
  createApplication,
  createUser,
  expectEnvelope,
  login,
  refresh,
  startApp,
  type TestApp,
  type TestUser,
  validate,
} from './support.js';

const REFRESH_REFUSED = 'Refresh token inválido, expirado o revocado';

/** Waits until `count` connections of the test database wait on a lock (or gives up after `ms`, without failing). */
async function lockWaiters(db: PrismaClient, count: number, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const [row] = await db.$queryRaw<Array<{ n: number }>>`
      SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock'`;
    if ((row?.n ?? 0) >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('POST /auth/logout and POST /auth/token/refresh', () => {
  let testApp: TestApp;
  let user: TestUser;
  let applicationId: string;
  beforeAll(async () => {
    testApp = await startApp();
    user = await createUser(testApp.db);
    applicationId = (await createApplication(testApp.db)).id;
  });
  afterAll(async () => {
    await testApp.close();
  });

  function logout(accessToken: string) {
    return testApp.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(accessToken) });
  }

  function sessionRow(id: string) {
    return testApp.db.session.findUniqueOrThrow({ where: { id }, include: { refreshTokens: true } });
  }

  describe('logout', () => {
    it('answers 200 with the message, revokes the session and its refresh tokens, and logs "logout"', async () => {
      const session = await login(testApp, user, applicationId);
      const rotated = await refresh(testApp, session.refresh_token);
      expect(rotated.statusCode).toBe(200);
      const response = await testApp.app.inject({
        method: 'POST',
        url: '/auth/logout',
        headers: { ...bearer(session.access_token), 'user-agent': 'logout-ua' },
        remoteAddress: '10.0.0.7',
      });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ message: 'Session and tokens revoked successfully' });

      const row = await sessionRow(session.session_id);
      expect(row.revokedAt).toBeInstanceOf(Date);
      expect(row.revokedReason).toBe('logout');
      expect(row.refreshTokens).toHaveLength(2);
      for (const token of row.refreshTokens) expect(token.revokedAt).toBeInstanceOf(Date);
      const logs = await testApp.db.authLog.findMany({ where: { sessionId: session.session_id, action: 'logout' } });
      expect(logs).toMatchObject([
        { userId: user.id, success: true, applicationId, ip: '10.0.0.7', userAgent: 'logout-ua' },
      ]);

      // Both access tokens and the current refresh token stop working at once.
      expect((await validate(testApp, session.access_token)).statusCode).toBe(401);
      expect((await validate(testApp, rotated.json().access_token)).statusCode).toBe(401);
      expectEnvelope(await refresh(testApp, rotated.json().refresh_token), 401, REFRESH_REFUSED);
      // A second logout with the same token is refused.
      expectEnvelope(await logout(session.access_token), 401);
    });

    it('ends only the session of the token', async () => {
      const ended = await login(testApp, user, applicationId);
      const kept = await login(testApp, user, applicationId);
      expect((await logout(ended.access_token)).statusCode).toBe(200);
      expect((await validate(testApp, kept.access_token)).statusCode).toBe(200);
      expect((await refresh(testApp, kept.refresh_token)).statusCode).toBe(200);
    });
  });

  describe('refresh', () => {
    it('rotates by default: a new access token and refresh token, the counters and an AuthLog "refresh"', async () => {
      const start = Date.now() - 120_000;
      const session = await atTime(start, () => login(testApp, user, applicationId));
      const response = await atTime(start + 60_000, () =>
        testApp.app.inject({
          method: 'POST',
          url: '/auth/token/refresh',
          payload: { refresh_token: session.refresh_token },
          remoteAddress: '10.0.0.8',
        }),
      );
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(Object.keys(body).sort()).toEqual([
        'access_token',
        'expires_at',
        'expires_in',
        'refresh_token',
        'token_type',
      ]);
      expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
      expect(Date.parse(body.expires_at)).toBe(Math.floor((start + 60_000) / 1000) * 1000 + 900_000);
      expect(body.refresh_token).not.toBe(session.refresh_token);
      expect(body.access_token).not.toBe(session.access_token);
      expect(response.headers['cache-control']).toBe('no-store');

      const validated = await validate(testApp, body.access_token);
      expect(validated.json()).toMatchObject({ valid: true, session_id: session.session_id, user_id: user.id });

      const row = await sessionRow(session.session_id);
      expect(row.refreshCount).toBe(1);
      expect(row.lastSeenAt.getTime()).toBe(start + 60_000);
      expect(row.idleExpiresAt.getTime()).toBe(start + 60_000 + 1_800_000);
      const [first, second] = [...row.refreshTokens].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
      expect(first?.rotatedAt?.getTime()).toBe(start + 60_000);
      expect(second).toMatchObject({ parentId: first?.id, familyId: first?.familyId, rotatedAt: null });
      const logs = await testApp.db.authLog.findMany({ where: { sessionId: session.session_id, action: 'refresh' } });
      expect(logs).toMatchObject([{ userId: user.id, success: true, applicationId, ip: '10.0.0.8' }]);

      // The new refresh token is good for the next refresh, which counts too.
      const next = await refresh(testApp, body.refresh_token);
      expect(next.statusCode).toBe(200);
      expect((await sessionRow(session.session_id)).refreshCount).toBe(2);
    });

    it('without rotation, answers no refresh_token and the same one keeps working', async () => {
      const fixed = await createApplication(testApp.db, { rotateRefreshTokens: false });
      const session = await login(testApp, user, fixed.id);
      for (let i = 1; i <= 3; i++) {
        const response = await refresh(testApp, session.refresh_token);
        expect(response.statusCode, response.body).toBe(200);
        expect(response.json()).not.toHaveProperty('refresh_token');
        expect((await validate(testApp, response.json().access_token)).statusCode).toBe(200);
      }
      const row = await sessionRow(session.session_id);
      expect(row.refreshCount).toBe(3);
      expect(row.refreshTokens).toHaveLength(1);
      expect(row.revokedAt).toBeNull();
    });

    it('refuses a reused rotated-out token within the grace period, without ending the session', async () => {
      const start = Date.now();
      const session = await atTime(start, () => login(testApp, user, applicationId));
      const rotated = await atTime(start + 1_000, () => refresh(testApp, session.refresh_token));
      expect(rotated.statusCode).toBe(200);
      const reused = await atTime(start + 6_000, () => refresh(testApp, session.refresh_token));
      expectEnvelope(reused, 401, REFRESH_REFUSED);

      const row = await sessionRow(session.session_id);
      expect(row.revokedAt).toBeNull();
      expect((await validate(testApp, rotated.json().access_token)).statusCode).toBe(200);
      expect((await refresh(testApp, rotated.json().refresh_token)).statusCode).toBe(200);
    });

    it('after the grace period, a reused token revokes the whole session', async () => {
      const start = Date.now();
      const session = await atTime(start, () => login(testApp, user, applicationId));
      const rotated = await atTime(start + 1_000, () => refresh(testApp, session.refresh_token));
      expect(rotated.statusCode).toBe(200);
      const reused = await atTime(start + 12_000, () => refresh(testApp, session.refresh_token));
      expectEnvelope(reused, 401, REFRESH_REFUSED);

      const row = await sessionRow(session.session_id);
      expect(row.revokedAt).toBeInstanceOf(Date);
      expect(row.revokedReason).toBe('refresh_token_reuse');
      for (const token of row.refreshTokens) expect(token.revokedAt).toBeInstanceOf(Date);
      const logs = await testApp.db.authLog.findMany({
        where: { sessionId: session.session_id, action: 'refresh_token_reuse' },
      });
      expect(logs).toMatchObject([{ userId: user.id, success: false, applicationId }]);

      await atTime(start + 13_000, async () => {
        expectEnvelope(await refresh(testApp, rotated.json().refresh_token), 401, REFRESH_REFUSED);
        expect((await validate(testApp, rotated.json().access_token)).statusCode).toBe(401);
        expect((await validate(testApp, session.access_token)).statusCode).toBe(401);
      });
    });

    it('of two concurrent refreshes with one token, exactly one succeeds and the session stays', async () => {
      for (let round = 0; round < 5; round++) {
        const session = await login(testApp, user, applicationId);
        const responses = await Promise.all([
          refresh(testApp, session.refresh_token),
          refresh(testApp, session.refresh_token),
        ]);
        const statuses = responses.map((response) => response.statusCode).sort();
        expect(statuses, responses.map((response) => response.body).join('\n')).toEqual([200, 401]);
        const winner = responses.find((response) => response.statusCode === 200) as LightMyRequestResponse;
        expect((await sessionRow(session.session_id)).revokedAt).toBeNull();
        expect((await sessionRow(session.session_id)).refreshCount).toBe(1);
        expect((await refresh(testApp, winner.json().refresh_token)).statusCode).toBe(200);
      }
    });

    it('refuses unknown, empty and malformed refresh tokens', async () => {
      expectEnvelope(await refresh(testApp, 'x'.repeat(43)), 401, REFRESH_REFUSED);
      for (const payload of [{}, { refresh_token: '' }, { refresh_token: 42 }, { refresh_token: 'a', extra: 1 }]) {
        expectEnvelope(await testApp.app.inject({ method: 'POST', url: '/auth/token/refresh', payload }), 400);
      }
    });

    // Regression: refresh_token was once capped at 512 characters, below an access token's ~590, which made this a 400.
    it('answers 401 to an access token presented as a refresh token', async () => {
      const session = await login(testApp, user, applicationId);
      expect(session.access_token.length).toBeGreaterThan(512);
      expectEnvelope(await refresh(testApp, session.access_token), 401, REFRESH_REFUSED);
    });

    it('answers 401 to an access token presented as a refresh token, when it fits the size limit', async () => {
      const session = await login(testApp, user, applicationId);
      // Any part of the JWT, e.g. its signature (86 characters), is just an unknown token.
      const signature = session.access_token.split('.')[2] ?? '';
      expectEnvelope(await refresh(testApp, signature), 401, REFRESH_REFUSED);
    });

    it("refuses the refresh of a disabled user's or a disabled application's session", async () => {
      const other = await createUser(testApp.db);
      const application = await createApplication(testApp.db);
      const ofUser = await login(testApp, other, applicationId);
      const ofApplication = await login(testApp, user, application.id);
      await testApp.db.user.update({ where: { id: other.id }, data: { status: 'disabled' } });
      await testApp.db.application.update({ where: { id: application.id }, data: { status: 'disabled' } });
      expectEnvelope(await refresh(testApp, ofUser.refresh_token), 401, REFRESH_REFUSED);
      expectEnvelope(await refresh(testApp, ofApplication.refresh_token), 401, REFRESH_REFUSED);
    });

    // Regression: refresh once locked the refresh_tokens row before the sessions row while logout locked them the
    // other way round, a deadlock (a 500, and a session left active). Both now lock the session first; the
    // interleaving that deadlocked is forced here with a row lock held from outside.
    it('logout racing a refresh: neither fails, and the session ends revoked', { timeout: 20_000 }, async () => {
      const session = await login(testApp, user, applicationId);
      const [token] = (await sessionRow(session.session_id)).refreshTokens;
      let requests: Promise<[LightMyRequestResponse, LightMyRequestResponse]> | undefined;
      await testApp.db.$transaction(
        async (tx) => {
          await tx.$queryRaw`SELECT id FROM auth.refresh_tokens WHERE id = ${token?.id} FOR UPDATE`;
          const refreshing = refresh(testApp, session.refresh_token);
          await lockWaiters(testApp.db, 1);
          const loggingOut = logout(session.access_token);
          await lockWaiters(testApp.db, 2);
          requests = Promise.all([refreshing, loggingOut]);
        },
        { timeout: 15_000 },
      );
      const [refreshed, loggedOut] = await (requests as NonNullable<typeof requests>);
      expect(loggedOut.statusCode, loggedOut.body).toBe(200);
      expect([200, 401], refreshed.body).toContain(refreshed.statusCode);
      expect((await sessionRow(session.session_id)).revokedAt).toBeInstanceOf(Date);
      if (refreshed.statusCode === 200) {
        expectEnvelope(await refresh(testApp, refreshed.json().refresh_token), 401);
        expect((await validate(testApp, refreshed.json().access_token)).statusCode).toBe(401);
      }
    });

    it('logout then refresh, and refresh then logout, both end with the session revoked', async () => {
      const first = await login(testApp, user, applicationId);
      expect((await logout(first.access_token)).statusCode).toBe(200);
      expectEnvelope(await refresh(testApp, first.refresh_token), 401, REFRESH_REFUSED);

      const second = await login(testApp, user, applicationId);
      const refreshed = await refresh(testApp, second.refresh_token);
      expect((await logout(refreshed.json().access_token)).statusCode).toBe(200);
      expect((await sessionRow(second.session_id)).revokedAt).toBeInstanceOf(Date);
      expectEnvelope(await refresh(testApp, refreshed.json().refresh_token), 401, REFRESH_REFUSED);
    });
  });
});

describe('REFRESH_REUSE_GRACE_SECONDS', () => {
  let testApp: TestApp;
  beforeAll(async () => {
    testApp = await startApp({ REFRESH_REUSE_GRACE_SECONDS: '2' });
  });
  afterAll(async () => {
    await testApp.close();
  });

  it('sets the grace period: a reuse 4 s after the rotation revokes the session (the default 10 s would not)', async () => {
    const user = await createUser(testApp.db);
    const application = await createApplication(testApp.db);
    const start = Date.now();
    const session = await atTime(start, () => login(testApp, user, application.id));
    const rotated = await atTime(start, () => refresh(testApp, session.refresh_token));
    expect(rotated.statusCode).toBe(200);
    // Within the 2 s: refused, session kept.
    expectEnvelope(await atTime(start + 1_500, () => refresh(testApp, session.refresh_token)), 401);
    const kept = await testApp.db.session.findUniqueOrThrow({ where: { id: session.session_id } });
    expect(kept.revokedAt).toBeNull();
    // After them: the session is revoked.
    expectEnvelope(await atTime(start + 4_000, () => refresh(testApp, session.refresh_token)), 401);
    const revoked = await testApp.db.session.findUniqueOrThrow({ where: { id: session.session_id } });
    expect(revoked.revokedReason).toBe('refresh_token_reuse');
  });
});
