import { createHash } from 'node:crypto';
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
} from './support.js';

interface LogEntry {
  action: string;
  success: boolean;
  timestamp: string;
  application_id: string | null;
  device_info: Record<string, unknown> | null;
  session_id: string | null;
  ip: string | null;
}

describe('POST /auth/attempts and GET /auth/logs', () => {
  let testApp: TestApp;
  let applicationId: string;
  beforeAll(async () => {
    testApp = await startApp();
    applicationId = (await createApplication(testApp.db)).id;
  });
  afterAll(async () => {
    await testApp.close();
  });

  function report(payload: unknown, headers: Record<string, string> = {}) {
    return testApp.app.inject({ method: 'POST', url: '/auth/attempts', payload: payload as object, headers });
  }

  function logs(accessToken: string, query = '') {
    return testApp.app.inject({ method: 'GET', url: `/auth/logs${query}`, headers: bearer(accessToken) });
  }

  describe('POST /auth/attempts', () => {
    it('records a minimal reported attempt without any token: 201 {id, recorded:true}', async () => {
      const response = await report({ method: 'token', success: false }, { 'user-agent': 'reporter/1' });
      expect(response.statusCode).toBe(201);
      const body = response.json();
      expect(body).toEqual({ id: expect.any(String), recorded: true });
      const row = await testApp.db.authAttempt.findUniqueOrThrow({ where: { id: body.id } });
      expect(row).toMatchObject({
        source: 'reported',
        method: 'token',
        success: false,
        identifier: null,
        applicationId: null,
        userId: null,
        reason: null,
        ip: '127.0.0.1',
        userAgent: 'reporter/1',
      });
    });

    it('records every field given', async () => {
      const payload = {
        identifier: 'someone@example.com',
        method: 'credentials',
        success: true,
        application_id: applicationId,
        reason: 'sso_widget',
        device_info: { platform: 'web', screen: { w: 1920, h: 1080 } },
      };
      const response = await testApp.app.inject({
        method: 'POST',
        url: '/auth/attempts',
        payload,
        remoteAddress: '10.3.3.3',
      });
      expect(response.statusCode).toBe(201);
      const row = await testApp.db.authAttempt.findUniqueOrThrow({ where: { id: response.json().id } });
      expect(row).toMatchObject({
        source: 'reported',
        identifier: payload.identifier,
        method: 'credentials',
        success: true,
        applicationId,
        reason: 'sso_widget',
        deviceInfo: payload.device_info,
        ip: '10.3.3.3',
      });
    });

    it('answers 400 to unknown fields, wrong types and oversize values, recording nothing', async () => {
      const before = await testApp.db.authAttempt.count();
      const valid = { method: 'token', success: false };
      const bad: unknown[] = [
        { ...valid, source: 'observed' },
        { ...valid, user_id: 'x' },
        { ...valid, method: 'password' },
        { ...valid, method: 1 },
        { ...valid, success: 'true' },
        { ...valid, success: 1 },
        { method: 'token' },
        { success: true },
        { ...valid, identifier: '' },
        { ...valid, identifier: 'i'.repeat(321) },
        { ...valid, identifier: 12 },
        { ...valid, identifier: 'a\u0000b' },
        { ...valid, reason: 'r\u0000' },
        { ...valid, device_info: { k: '\u0000' } },
        { ...valid, reason: 'r'.repeat(201) },
        { ...valid, application_id: 'a'.repeat(201) },
        { ...valid, device_info: 'mobile' },
        { ...valid, device_info: [1] },
        { ...valid, device_info: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i])) },
        { ...valid, device_info: { blob: 'x'.repeat(5_000) } },
        [valid],
      ];
      for (const payload of bad) {
        const response = await report(payload);
        expect(response.statusCode, JSON.stringify(payload).slice(0, 60)).toBe(400);
        expectEnvelope(response, 400);
      }
      for (const text of ['{"method":', '"just a string"', 'null']) {
        const response = await testApp.app.inject({
          method: 'POST',
          url: '/auth/attempts',
          headers: { 'content-type': 'application/json' },
          payload: text,
        });
        expect(response.statusCode, text).toBe(400);
        expectEnvelope(response, 400);
      }
      expect(await testApp.db.authAttempt.count()).toBe(before);
    });
  });

  describe('GET /auth/logs', () => {
    let user: TestUser;
    let accessToken: string;
    let sessionId: string;
    beforeAll(async () => {
      user = await createUser(testApp.db);
      const start = Date.now() - 600_000;
      const session = await atTime(start, () =>
        login(testApp, user, applicationId, { device_info: { app: 'logs' }, remoteAddress: '10.4.4.4' }),
      );
      accessToken = session.access_token;
      sessionId = session.session_id;
      // A failed login, a refresh, another session closed: each a later entry.
      await atTime(start + 1_000, () =>
        testApp.app.inject({
          method: 'POST',
          url: '/auth/login',
          payload: { username: user.username, password: 'wrong', application_id: applicationId },
        }),
      );
      const refreshed = await atTime(start + 2_000, () => refresh(testApp, session.refresh_token));
      accessToken = refreshed.json().access_token;
      const other = await atTime(start + 3_000, () => login(testApp, user, applicationId));
      await atTime(start + 4_000, () =>
        testApp.app.inject({
          method: 'DELETE',
          url: `/auth/sessions/${other.session_id}`,
          headers: bearer(accessToken),
        }),
      );
      // Another user's activity, never shown.
      const stranger = await createUser(testApp.db);
      await login(testApp, stranger, applicationId);
    });

    it("answers the caller's own entries, newest first, with the contract's fields", async () => {
      const response = await logs(accessToken);
      expect(response.statusCode).toBe(200);
      expect(response.headers['x-next-cursor']).toBeUndefined();
      const entries = response.json<LogEntry[]>();
      expect(entries.map((entry) => [entry.action, entry.success])).toEqual([
        ['session_closed', true],
        ['login', true],
        ['refresh', true],
        ['login', false],
        ['login', true],
      ]);
      for (const entry of entries) {
        expect(Object.keys(entry).sort()).toEqual([
          'action',
          'application_id',
          'device_info',
          'ip',
          'session_id',
          'success',
          'timestamp',
        ]);
        expect(entry.application_id).toBe(applicationId);
        expect(entry.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      }
      const timestamps = entries.map((entry) => Date.parse(entry.timestamp));
      expect([...timestamps].sort((a, b) => b - a)).toEqual(timestamps);
      expect(entries.at(-1)).toMatchObject({
        action: 'login',
        success: true,
        session_id: sessionId,
        device_info: { app: 'logs' },
        ip: '10.4.4.4',
      });
    });

    it('pages with limit and X-Next-Cursor, without gaps or repeats, ties included', async () => {
      const pager = await createUser(testApp.db);
      const session = await login(testApp, pager, applicationId);
      // 60 more entries, older than the login, several sharing a timestamp (ordered by id within one).
      const base = Date.now() - 3_600_000;
      await testApp.db.authLog.createMany({
        data: Array.from({ length: 60 }, (_, i) => ({
          userId: pager.id,
          action: `seeded_${i}`,
          success: i % 2 === 0,
          createdAt: new Date(base + Math.floor(i / 3) * 1_000),
        })),
      });
      const everything = await testApp.db.authLog.findMany({
        where: { userId: pager.id },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      });
      expect(everything).toHaveLength(61);

      // Default limit 50.
      const first = await logs(session.access_token);
      expect(first.json()).toHaveLength(50);
      expect(first.headers['x-next-cursor']).toBeTypeOf('string');

      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const query = `?limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const response = await logs(session.access_token, query);
        expect(response.statusCode, response.body).toBe(200);
        const page = response.json<LogEntry[]>();
        expect(page.length).toBeLessThanOrEqual(7);
        seen.push(...page.map((entry) => entry.action));
        cursor = response.headers['x-next-cursor'] as string | undefined;
        pages += 1;
      } while (cursor && pages < 20);
      expect(pages).toBe(9);
      expect(seen).toEqual(everything.map((row) => row.action));

      const all = await logs(session.access_token, '?limit=200');
      expect(all.json()).toHaveLength(61);
      expect(all.headers['x-next-cursor']).toBeUndefined();
    });

    it('answers 400 to a limit of 0, 201 or "abc", and to a bad cursor', async () => {
      for (const query of ['?limit=0', '?limit=201', '?limit=abc', '?limit=-1', '?limit=1.5']) {
        const response = await logs(accessToken, query);
        expect(response.statusCode, query).toBe(400);
        expectEnvelope(response, 400);
      }
      const badCursors = [
        'garbage',
        Buffer.from('[]').toString('base64url'),
        Buffer.from('null').toString('base64url'),
        Buffer.from('["not a date","x"]').toString('base64url'),
        Buffer.from(JSON.stringify([new Date().toISOString(), 42])).toString('base64url'),
        'c'.repeat(201),
      ];
      for (const cursor of badCursors) {
        const response = await logs(accessToken, `?cursor=${encodeURIComponent(cursor)}`);
        expect(response.statusCode, cursor).toBe(400);
        expectEnvelope(response, 400);
      }
    });
  });

  describe('no secrets in the audit trail', () => {
    it('passwords, refresh tokens and access tokens never reach auth_attempts or auth_logs', async () => {
      const user = await createUser(testApp.db, { password: 'Sup3r-Secret-Passw0rd!' });
      const wrongPassword = 'Wr0ng-Guess-Passw0rd?';
      const secrets: string[] = [user.password, wrongPassword];
      const headersOf = (token: string) => ({ ...bearer(token), 'user-agent': 'secrets-test' });

      await testApp.app.inject({
        method: 'POST',
        url: '/auth/verify',
        payload: { username: user.username, password: user.password },
      });
      await testApp.app.inject({
        method: 'POST',
        url: '/auth/verify',
        payload: { username: user.username, password: wrongPassword },
      });
      await testApp.app.inject({
        method: 'POST',
        url: '/auth/verify',
        payload: { username: 'nobody', password: wrongPassword },
      });
      await testApp.app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { username: user.username, password: wrongPassword, application_id: applicationId },
      });
      const start = Date.now();
      const session = await atTime(start, () => login(testApp, user, applicationId, { device_info: { d: 1 } }));
      secrets.push(session.access_token, session.refresh_token);
      const rotated = await atTime(start + 1_000, () => refresh(testApp, session.refresh_token));
      secrets.push(rotated.json().access_token, rotated.json().refresh_token);
      // A reuse after the grace period: the reuse detection must not log the token either.
      await atTime(start + 20_000, () => refresh(testApp, session.refresh_token));
      const second = await login(testApp, user, applicationId);
      secrets.push(second.access_token, second.refresh_token);
      await testApp.app.inject({ method: 'GET', url: '/auth/logs', headers: headersOf(second.access_token) });
      await testApp.app.inject({
        method: 'POST',
        url: '/auth/token/validate',
        headers: headersOf(second.access_token),
      });
      await testApp.app.inject({ method: 'POST', url: '/auth/logout', headers: headersOf(second.access_token) });

      const attempts = await testApp.db.authAttempt.findMany();
      const logRows = await testApp.db.authLog.findMany({ where: { userId: user.id } });
      expect(attempts.length).toBeGreaterThan(3);
      expect(logRows.map((row) => row.action)).toEqual(
        expect.arrayContaining(['login', 'refresh', 'refresh_token_reuse', 'logout']),
      );
      const dump = JSON.stringify([attempts, logRows]);
      for (const secret of secrets) {
        expect(dump.includes(secret), `${secret.slice(0, 12)}… found in the audit`).toBe(false);
        // Nor a recognisable part of a JWT (its signature).
        const signature = secret.split('.')[2];
        if (signature) expect(dump.includes(signature)).toBe(false);
      }
      // Sessions do not hold them either.
      const sessions = JSON.stringify(await testApp.db.session.findMany({ where: { userId: user.id } }));
      for (const secret of secrets) expect(sessions.includes(secret)).toBe(false);
    });

    it('auth.refresh_tokens holds only the SHA-256 of each refresh token', async () => {
      const user = await createUser(testApp.db);
      const session = await login(testApp, user, applicationId);
      const rotated = (await refresh(testApp, session.refresh_token)).json().refresh_token as string;
      const rows = await testApp.db.$queryRaw<Array<{ row: string }>>`
        SELECT row_to_json(t)::text AS row FROM auth.refresh_tokens t WHERE session_id = ${session.session_id}`;
      expect(rows).toHaveLength(2);
      const dump = rows.map((r) => r.row).join('\n');
      for (const token of [session.refresh_token, rotated]) {
        expect(dump.includes(token)).toBe(false);
        expect(dump.includes(createHash('sha256').update(token).digest('base64url'))).toBe(true);
      }
    });
  });
});
