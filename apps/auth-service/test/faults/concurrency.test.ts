// Requests racing each other on one session or one account: the repeated and burst versions of the single races in
// test/routes/logout-refresh.test.ts. Exactly one of two refreshes with one token wins; a logout always ends the
// session whatever a refresh does meanwhile; a burst of sign-ins leaves exactly one attempt (and, on success, one
// session, one refresh token and one log entry) per request.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  createApplication,
  createUser,
  expectEnvelope,
  type LoginResult,
  login,
  refresh,
  startApp,
  type TestApp,
  type TestUser,
  validate,
} from '../routes/support.js';
import { UNLIMITED } from './support.js';

const REFRESH_REFUSED = 'Refresh token inválido, expirado o revocado';

let testApp: TestApp;
let user: TestUser;
let applicationId: string;

beforeAll(async () => {
  // Stored hashes (the tests' t=1) are weaker than the service's t=2: every first sign-in also upgrades the hash.
  testApp = await startApp({ ...UNLIMITED, PASSWORD_HASH_ITERATIONS: '2' });
  user = await createUser(testApp.db);
  applicationId = (await createApplication(testApp.db)).id;
});
afterAll(async () => {
  await testApp?.close();
});

function logout(accessToken: string) {
  return testApp.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(accessToken) });
}

function tokensOf(sessionId: string) {
  return testApp.db.refreshToken.findMany({ where: { sessionId } });
}

describe('refreshes racing with one token', () => {
  it('two at once: exactly one 200 and one 401, the session stays, 20 times over', async () => {
    for (let round = 0; round < 20; round++) {
      const session = await login(testApp, user, applicationId);
      const responses = await Promise.all([
        refresh(testApp, session.refresh_token),
        refresh(testApp, session.refresh_token),
      ]);
      const statuses = responses.map((response) => response.statusCode).sort();
      expect(statuses, `round ${round}: ${responses.map((response) => response.body).join('\n')}`).toEqual([200, 401]);
      const loser = responses.find((response) => response.statusCode === 401) as LightMyRequestResponse;
      expectEnvelope(loser, 401, REFRESH_REFUSED);
      const winner = responses.find((response) => response.statusCode === 200) as LightMyRequestResponse;

      const row = await testApp.db.session.findUniqueOrThrow({ where: { id: session.session_id } });
      expect(row.revokedAt).toBeNull();
      expect(row.refreshCount).toBe(1);
      const tokens = await tokensOf(session.session_id);
      expect(tokens).toHaveLength(2);
      expect(tokens.filter((token) => token.rotatedAt === null && token.revokedAt === null)).toHaveLength(1);
      const logs = await testApp.db.authLog.count({ where: { sessionId: session.session_id, action: 'refresh' } });
      expect(logs).toBe(1);
      expect((await validate(testApp, winner.json().access_token)).statusCode).toBe(200);
    }
  });

  it('five at once: exactly one wins, 5 times over', async () => {
    for (let round = 0; round < 5; round++) {
      const session = await login(testApp, user, applicationId);
      const responses = await Promise.all(Array.from({ length: 5 }, () => refresh(testApp, session.refresh_token)));
      const statuses = responses.map((response) => response.statusCode).sort();
      expect(statuses, responses.map((response) => response.body).join('\n')).toEqual([200, 401, 401, 401, 401]);
      const row = await testApp.db.session.findUniqueOrThrow({ where: { id: session.session_id } });
      expect(row).toMatchObject({ revokedAt: null, refreshCount: 1 });
      expect(await tokensOf(session.session_id)).toHaveLength(2);
    }
  });
});

describe('logout racing a refresh of the same session', () => {
  it('always ends revoked, no refresh token of it works afterwards, and neither request fails, 20 times over', async () => {
    for (let round = 0; round < 20; round++) {
      const session = await login(testApp, user, applicationId);
      // Which one starts first, and how far apart, varies with the round.
      const gap = () => new Promise((resolve) => (round % 3 === 0 ? setImmediate(resolve) : resolve(undefined)));
      const [refreshed, loggedOut] =
        round % 2 === 0
          ? await Promise.all([refresh(testApp, session.refresh_token), gap().then(() => logout(session.access_token))])
          : await Promise.all([
              gap().then(() => refresh(testApp, session.refresh_token)),
              logout(session.access_token),
            ]);
      const label = `round ${round}: refresh ${refreshed.statusCode} ${refreshed.body} / logout ${loggedOut.statusCode}`;
      expect(loggedOut.statusCode, label).toBe(200);
      expect([200, 401], label).toContain(refreshed.statusCode);
      if (refreshed.statusCode === 401) expectEnvelope(refreshed, 401, REFRESH_REFUSED);

      const row = await testApp.db.session.findUniqueOrThrow({ where: { id: session.session_id } });
      expect(row.revokedAt, label).toBeInstanceOf(Date);
      expect(row.revokedReason, label).toBe('logout');
      const tokens = await tokensOf(session.session_id);
      for (const token of tokens) expect(token.revokedAt, label).toBeInstanceOf(Date);
      // A refresh that won the race counted once; one that lost left nothing behind.
      expect(tokens).toHaveLength(refreshed.statusCode === 200 ? 2 : 1);
      expect(row.refreshCount).toBe(refreshed.statusCode === 200 ? 1 : 0);

      expectEnvelope(await refresh(testApp, session.refresh_token), 401, REFRESH_REFUSED);
      expect((await validate(testApp, session.access_token)).statusCode).toBe(401);
      if (refreshed.statusCode === 200) {
        expectEnvelope(await refresh(testApp, refreshed.json().refresh_token), 401, REFRESH_REFUSED);
        expect((await validate(testApp, refreshed.json().access_token)).statusCode, label).toBe(401);
      }
      const logoutLogs = await testApp.db.authLog.count({ where: { sessionId: session.session_id, action: 'logout' } });
      expect(logoutLogs).toBe(1);
    }
  });
});

describe('a burst of sign-ins for one account', () => {
  it('30 logins at once, half with a wrong password: exact attempts, sessions and logs', async () => {
    const account = await createUser(testApp.db);
    const hashBefore = (await testApp.db.user.findUniqueOrThrow({ where: { id: account.id } })).passwordHash;
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        testApp.app.inject({
          method: 'POST',
          url: '/auth/login',
          payload: {
            username: account.username,
            password: i % 2 === 0 ? account.password : 'wrong password',
            application_id: applicationId,
          },
        }),
      ),
    );
    const ok = responses.filter((response) => response.statusCode === 200);
    const refused = responses.filter((response) => response.statusCode === 401);
    expect(
      responses.map((response) => response.statusCode).filter((status) => status !== 200 && status !== 401),
      responses.map((response) => response.body).join('\n'),
    ).toEqual([]);
    expect(ok).toHaveLength(15);
    expect(refused).toHaveLength(15);

    const attempts = await testApp.db.authAttempt.findMany({ where: { userId: account.id } });
    expect(attempts).toHaveLength(30);
    expect(attempts.filter((attempt) => attempt.success)).toHaveLength(15);
    for (const attempt of attempts) {
      expect(attempt).toMatchObject({ source: 'observed', method: 'credentials', applicationId });
      expect(attempt.reason).toBe(attempt.success ? 'login' : 'bad_password');
    }

    const sessions = await testApp.db.session.findMany({
      where: { userId: account.id },
      include: { refreshTokens: true },
    });
    expect(sessions.map((session) => session.id).sort()).toEqual(
      ok.map((response) => response.json<LoginResult>().session_id).sort(),
    );
    for (const session of sessions) {
      expect(session.revokedAt).toBeNull();
      expect(session.refreshTokens).toHaveLength(1);
    }
    const logs = await testApp.db.authLog.findMany({ where: { userId: account.id, action: 'login' } });
    expect(
      logs
        .filter((log) => log.success)
        .map((log) => log.sessionId)
        .sort(),
    ).toEqual(sessions.map((session) => session.id).sort());
    expect(logs.filter((log) => !log.success)).toHaveLength(15);

    // The concurrent hash upgrades left one good hash (t=2), the password unchanged, and every session working.
    const stored = await testApp.db.user.findUniqueOrThrow({ where: { id: account.id } });
    expect(stored.passwordHash).not.toBe(hashBefore);
    expect(stored.passwordHash).toMatch(/t=2/);
    await login(testApp, account, applicationId);
    for (const response of ok.slice(0, 3)) {
      expect((await validate(testApp, response.json<LoginResult>().access_token)).statusCode).toBe(200);
    }
  });

  it('30 verifications at once: one attempt each, with the right outcome', async () => {
    const account = await createUser(testApp.db);
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        testApp.app.inject({
          method: 'POST',
          url: '/auth/verify',
          payload: { username: account.username, password: i % 3 === 0 ? 'wrong password' : account.password },
        }),
      ),
    );
    expect(responses.map((response) => response.statusCode).sort()).toEqual([
      ...Array<number>(20).fill(200),
      ...Array<number>(10).fill(401),
    ]);
    const attempts = await testApp.db.authAttempt.findMany({ where: { userId: account.id } });
    expect(attempts).toHaveLength(30);
    expect(attempts.filter((attempt) => attempt.success && attempt.reason === 'verify')).toHaveLength(20);
    expect(attempts.filter((attempt) => !attempt.success && attempt.reason === 'bad_password')).toHaveLength(10);
    expect(await testApp.db.session.count({ where: { userId: account.id } })).toBe(0);
  });
});
