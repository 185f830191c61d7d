import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  atTime,
  bearer,
  createApplication,
  createUser,
  decodeSegment,
  expectEnvelope,
  login,
  refresh,
  startApp,
  type TestApp,
  type TestUser,
  validate,
} from './support.js';

// An application whose sessions end after 60 s without activity and 150 s after login at the latest; its access
// tokens (300 s) would outlive the session, so they are cut to the session's absolute expiry.
const POLICY = { idleTimeoutSeconds: 60, absoluteTimeoutSeconds: 150, accessTokenTtlSeconds: 300 };

describe('idle and absolute session timeouts (frozen clock)', () => {
  let testApp: TestApp;
  let user: TestUser;
  let applicationId: string;
  beforeAll(async () => {
    testApp = await startApp();
    user = await createUser(testApp.db);
    applicationId = (await createApplication(testApp.db, POLICY)).id;
  });
  afterAll(async () => {
    await testApp.close();
  });

  function idleExpiry(sessionId: string) {
    return testApp.db.session
      .findUniqueOrThrow({ where: { id: sessionId } })
      .then((session) => session.idleExpiresAt.getTime());
  }

  it('ends a session idle for longer than its timeout: validate, refresh and the Bearer routes answer 401', async () => {
    const start = Math.floor(Date.now() / 1000) * 1000;
    const session = await atTime(start, () => login(testApp, user, applicationId));
    // The access token itself would still be valid for a while (it ends with the session, at +150 s).
    const { exp } = decodeSegment<{ exp: number }>(session.access_token.split('.')[1]);
    expect(exp * 1000).toBe(start + 150_000);
    expect(session.expires_in).toBe(150);

    expect((await atTime(start + 59_000, () => validate(testApp, session.access_token))).statusCode).toBe(200);
    await atTime(start + 61_000, async () => {
      const validated = await validate(testApp, session.access_token);
      expectEnvelope(validated, 401);
      expect(validated.json().valid).toBe(false);
      expectEnvelope(await refresh(testApp, session.refresh_token), 401);
      const me = await testApp.app.inject({
        method: 'GET',
        url: '/auth/session/me',
        headers: bearer(session.access_token),
      });
      expectEnvelope(me, 401);
    });
    // Later still, with a new session of the same user, the idle one is not listed.
    const fresh = await atTime(start + 62_000, () => login(testApp, user, applicationId));
    const listed = await atTime(start + 62_000, () =>
      testApp.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(fresh.access_token) }),
    );
    expect(listed.json().map((entry: { session_id: string }) => entry.session_id)).not.toContain(session.session_id);
  });

  it('a refresh before the idle timeout extends it', async () => {
    const start = Math.floor(Date.now() / 1000) * 1000;
    const session = await atTime(start, () => login(testApp, user, applicationId));
    expect(await idleExpiry(session.session_id)).toBe(start + 60_000);

    const refreshed = await atTime(start + 40_000, () => refresh(testApp, session.refresh_token));
    expect(refreshed.statusCode).toBe(200);
    expect(await idleExpiry(session.session_id)).toBe(start + 100_000);
    // Past the first idle expiry, the session lives on, for the old access token too.
    expect((await atTime(start + 70_000, () => validate(testApp, session.access_token))).statusCode).toBe(200);
    expect((await atTime(start + 70_000, () => validate(testApp, refreshed.json().access_token))).statusCode).toBe(200);
    // And ends 60 s after the refresh.
    expectEnvelope(await atTime(start + 101_000, () => validate(testApp, refreshed.json().access_token)), 401);
    expectEnvelope(await atTime(start + 101_000, () => refresh(testApp, refreshed.json().refresh_token)), 401);
  });

  it('refreshes never extend a session past its absolute timeout', async () => {
    const start = Math.floor(Date.now() / 1000) * 1000;
    const session = await atTime(start, () => login(testApp, user, applicationId));
    let refreshToken = session.refresh_token;
    let accessToken = session.access_token;
    for (const at of [40_000, 80_000, 120_000]) {
      const response = await atTime(start + at, () => refresh(testApp, refreshToken));
      expect(response.statusCode, `refresh at +${at / 1000} s`).toBe(200);
      refreshToken = response.json().refresh_token;
      accessToken = response.json().access_token;
      // The idle expiry follows the activity, capped at the absolute expiry.
      expect(await idleExpiry(session.session_id)).toBe(start + Math.min(at + 60_000, 150_000));
      // The access token never outlives the session either.
      const { exp } = decodeSegment<{ exp: number }>(accessToken.split('.')[1]);
      expect(exp * 1000).toBe(start + 150_000);
      expect(response.json().expires_in).toBe((150_000 - at) / 1000);
    }
    expect((await atTime(start + 149_000, () => validate(testApp, accessToken))).statusCode).toBe(200);
    // 35 s after the last refresh (less than the idle timeout), but past the absolute timeout.
    await atTime(start + 155_000, async () => {
      expectEnvelope(await refresh(testApp, refreshToken), 401);
      expectEnvelope(await validate(testApp, accessToken), 401);
    });
  });

  it('the default policy is 30 min idle and 12 h absolute', async () => {
    const defaults = await createApplication(testApp.db);
    const start = Math.floor(Date.now() / 1000) * 1000;
    const session = await atTime(start, () => login(testApp, user, defaults.id));
    const row = await testApp.db.session.findUniqueOrThrow({ where: { id: session.session_id } });
    expect(row.idleExpiresAt.getTime()).toBe(start + 30 * 60_000);
    expect(row.absoluteExpiresAt.getTime()).toBe(start + 12 * 3_600_000);
    // Within the idle timeout, a refresh after the access token expired works.
    const renewed = await atTime(start + 29 * 60_000, () => refresh(testApp, session.refresh_token));
    expect(renewed.statusCode).toBe(200);
    expectEnvelope(
      await atTime(start + 29 * 60_000 + 30 * 60_000 + 1_000, () => refresh(testApp, renewed.json().refresh_token)),
      401,
    );
  });
});
