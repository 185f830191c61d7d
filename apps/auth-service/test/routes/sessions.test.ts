import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  atTime,
  bearer,
  createApplication,
  createUser,
  expectEnvelope,
  type LoginResult,
  login,
  refresh,
  startApp,
  type TestApp,
  validate,
} from './support.js';

interface SessionSummary {
  session_id: string;
  created_at: string;
  device_info: Record<string, unknown> | null;
  last_seen_at: string;
  ip: string | null;
  user_agent: string | null;
  application_id: string;
  current: boolean;
}

describe('the sessions of the caller', () => {
  let testApp: TestApp;
  let applicationId: string;
  beforeAll(async () => {
    testApp = await startApp();
    applicationId = (await createApplication(testApp.db)).id;
  });
  afterAll(async () => {
    await testApp.close();
  });

  function get(url: string, accessToken: string) {
    return testApp.app.inject({ method: 'GET', url, headers: bearer(accessToken) });
  }

  function close(url: string, accessToken: string) {
    return testApp.app.inject({ method: 'DELETE', url, headers: bearer(accessToken) });
  }

  describe('GET /auth/session/me', () => {
    it('answers the session of the token', async () => {
      const user = await createUser(testApp.db);
      const start = Date.now() - 60_000;
      const session = await atTime(start, () =>
        login(testApp, user, applicationId, { device_info: { os: 'Android', version: 14 } }),
      );
      const response = await get('/auth/session/me', session.access_token);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({
        user_id: user.id,
        session_id: session.session_id,
        application_id: applicationId,
        device_info: { os: 'Android', version: 14 },
        created_at: new Date(start).toISOString(),
        last_seen_at: new Date(start).toISOString(),
        expires_at: new Date(start + 1_800_000).toISOString(),
      });

      // A refresh moves last_seen_at and the idle expiry.
      await atTime(start + 30_000, () => refresh(testApp, session.refresh_token));
      const after = (await get('/auth/session/me', session.access_token)).json();
      expect(after.last_seen_at).toBe(new Date(start + 30_000).toISOString());
      expect(after.expires_at).toBe(new Date(start + 30_000 + 1_800_000).toISOString());
      expect(after.created_at).toBe(new Date(start).toISOString());
    });

    it('answers device_info null when the login had none', async () => {
      const user = await createUser(testApp.db);
      const session = await login(testApp, user, applicationId);
      expect((await get('/auth/session/me', session.access_token)).json().device_info).toBeNull();
    });
  });

  describe('GET /auth/sessions', () => {
    it("lists the user's active sessions only, newest first, marking the current one", async () => {
      const user = await createUser(testApp.db);
      const other = await createUser(testApp.db);
      const secondApplication = await createApplication(testApp.db);
      const shortIdle = await createApplication(testApp.db, { idleTimeoutSeconds: 60 });
      const start = Date.now() - 300_000;
      const opened: LoginResult[] = [];
      for (let i = 0; i < 3; i++) {
        opened.push(
          await atTime(start + i * 1_000, () =>
            login(testApp, user, i === 1 ? secondApplication.id : applicationId, {
              device_info: { device: `d${i}` },
              headers: { 'user-agent': `agent/${i}` },
              remoteAddress: `10.20.0.${i + 1}`,
            }),
          ),
        );
      }
      // Not listed: a logged-out session, one idle for longer than its application allows, another user's.
      const loggedOut = await atTime(start + 3_000, () => login(testApp, user, applicationId));
      expect(
        (await testApp.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(loggedOut.access_token) }))
          .statusCode,
      ).toBe(200);
      await atTime(start + 4_000, () => login(testApp, user, shortIdle.id));
      await login(testApp, other, applicationId);

      const current = opened[1] as LoginResult;
      const response = await get('/auth/sessions', current.access_token);
      expect(response.statusCode).toBe(200);
      const list = response.json<SessionSummary[]>();
      expect(list.map((entry) => entry.session_id)).toEqual([2, 1, 0].map((i) => opened[i]?.session_id));
      for (const [position, i] of [2, 1, 0].entries()) {
        expect(list[position]).toEqual({
          session_id: opened[i]?.session_id,
          created_at: new Date(start + i * 1_000).toISOString(),
          device_info: { device: `d${i}` },
          last_seen_at: new Date(start + i * 1_000).toISOString(),
          ip: `10.20.0.${i + 1}`,
          user_agent: `agent/${i}`,
          application_id: i === 1 ? secondApplication.id : applicationId,
          current: i === 1,
        });
      }
    });
  });

  describe('DELETE /auth/sessions/:session_id', () => {
    it("closes one of the caller's own sessions", async () => {
      const user = await createUser(testApp.db);
      const caller = await login(testApp, user, applicationId);
      const target = await login(testApp, user, applicationId);
      const response = await close(`/auth/sessions/${target.session_id}`, caller.access_token);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ message: expect.any(String), revoked_count: 1 });

      const row = await testApp.db.session.findUniqueOrThrow({
        where: { id: target.session_id },
        include: { refreshTokens: true },
      });
      expect(row.revokedAt).toBeInstanceOf(Date);
      expect(row.revokedReason).toBe('closed_by_user');
      expect((await validate(testApp, target.access_token)).statusCode).toBe(401);
      expect((await refresh(testApp, target.refresh_token)).statusCode).toBe(401);
      expect((await validate(testApp, caller.access_token)).statusCode).toBe(200);
      const logs = await testApp.db.authLog.findMany({ where: { userId: user.id, action: 'session_closed' } });
      expect(logs).toMatchObject([{ sessionId: target.session_id, success: true }]);

      const listed = (await get('/auth/sessions', caller.access_token)).json<SessionSummary[]>();
      expect(listed.map((entry) => entry.session_id)).toEqual([caller.session_id]);

      // Closing it again: it is no longer an active session of the caller.
      expectEnvelope(await close(`/auth/sessions/${target.session_id}`, caller.access_token), 404);
    });

    it("answers 404 for another user's session, which stays open, and for an unknown id", async () => {
      const user = await createUser(testApp.db);
      const other = await createUser(testApp.db);
      const caller = await login(testApp, user, applicationId);
      const victim = await login(testApp, other, applicationId);
      const foreign = await close(`/auth/sessions/${victim.session_id}`, caller.access_token);
      const unknown = await close('/auth/sessions/01900000-0000-7000-8000-000000000000', caller.access_token);
      const garbage = await close('/auth/sessions/not-a-uuid', caller.access_token);
      for (const response of [foreign, unknown, garbage]) expectEnvelope(response, 404);
      // Another user's session is indistinguishable from an unknown one.
      expect(foreign.body).toBe(unknown.body);
      expect((await validate(testApp, victim.access_token)).statusCode).toBe(200);
      expect((await testApp.db.session.findUniqueOrThrow({ where: { id: victim.session_id } })).revokedAt).toBeNull();
    });
  });

  describe('DELETE /auth/sessions', () => {
    it("closes all the caller's other sessions, and nobody else's", async () => {
      const user = await createUser(testApp.db);
      const other = await createUser(testApp.db);
      const caller = await login(testApp, user, applicationId);
      const others = [await login(testApp, user, applicationId), await login(testApp, user, applicationId)];
      const bystander = await login(testApp, other, applicationId);

      const response = await close('/auth/sessions', caller.access_token);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ message: expect.any(String), revoked_count: 2 });
      for (const session of others) {
        expect((await validate(testApp, session.access_token)).statusCode).toBe(401);
        expect((await refresh(testApp, session.refresh_token)).statusCode).toBe(401);
      }
      expect((await validate(testApp, caller.access_token)).statusCode).toBe(200);
      expect((await validate(testApp, bystander.access_token)).statusCode).toBe(200);
      const listed = (await get('/auth/sessions', caller.access_token)).json<SessionSummary[]>();
      expect(listed.map((entry) => [entry.session_id, entry.current])).toEqual([[caller.session_id, true]]);
      const logs = await testApp.db.authLog.findMany({ where: { userId: user.id, action: 'other_sessions_closed' } });
      expect(logs).toMatchObject([{ sessionId: caller.session_id, success: true }]);

      // Nothing left to close.
      expect((await close('/auth/sessions', caller.access_token)).json()).toMatchObject({ revoked_count: 0 });
    });
  });
});
