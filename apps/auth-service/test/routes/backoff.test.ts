import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type AuthServiceApp, buildApp } from '../../src/app.js';
import { loadAuthServiceConfig } from '../../src/config.js';
import { testEnv } from '../helpers.js';
import {
  atTime,
  createApplication,
  createUser,
  expectEnvelope,
  INVALID_CREDENTIALS,
  login,
  startApp,
  type TestApp,
  tempDataDir,
  unique,
} from './support.js';

// The defaults: 5 failures, first lock 30 s, doubling up to 900 s, forgotten after 900 s.
const SECOND = 1_000;

describe('brute-force backoff of /auth/verify and /auth/login', () => {
  let testApp: TestApp;
  let applicationId: string;
  /** A second instance of the service on the same database (another replica). */
  let replica: AuthServiceApp;
  let clock = Date.parse('2031-06-01T08:00:00.000Z');
  beforeAll(async () => {
    const dataDir = tempDataDir();
    testApp = await startApp({ DATA_DIR: dataDir });
    replica = await buildApp(
      loadAuthServiceConfig(
        testEnv(testApp.config.DATABASE_URL, { DATA_DIR: dataDir, RATE_LIMIT_CREDENTIALS_PER_MINUTE: '100000' }),
      ),
    );
    applicationId = (await createApplication(testApp.db)).id;
  });
  afterAll(async () => {
    await replica?.close();
    await testApp?.close();
  });

  /** A start time of its own for each test, an hour after the previous one. */
  function newClock(): number {
    clock += 3_600 * SECOND;
    return clock;
  }

  function verify(identifier: Record<string, string>, password: string, app = testApp.app) {
    return app.inject({ method: 'POST', url: '/auth/verify', payload: { ...identifier, password } });
  }

  function postLogin(identifier: Record<string, string>, password: string, app = testApp.app) {
    return app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { ...identifier, password, application_id: applicationId },
    });
  }

  /** Status, body and headers, but those that differ on every response by design (and the per-address counters). */
  function answer(response: LightMyRequestResponse) {
    const { 'x-request-id': _id, date: _date, ...rest } = response.headers;
    const headers = Object.fromEntries(Object.entries(rest).filter(([name]) => !name.startsWith('x-ratelimit-')));
    return { status: response.statusCode, body: response.body, headers };
  }

  async function failTimes(count: number, send: () => Promise<LightMyRequestResponse>) {
    const statuses = [];
    for (let i = 0; i < count; i++) statuses.push((await send()).statusCode);
    return statuses;
  }

  /** The attempts' reasons of an identifier as presented, sorted (rows of one millisecond have no reliable order). */
  function attemptReasons(identifier: string) {
    return testApp.db.authAttempt
      .findMany({ where: { identifier }, select: { reason: true } })
      .then((rows) => rows.map((row) => row.reason ?? '').sort());
  }

  /** `reasons` sorted, to compare with {@link attemptReasons}. */
  function sorted(...reasons: string[]) {
    return reasons.sort();
  }

  it('after 5 failures refuses the right password with exactly the answer of a wrong one', async () => {
    const user = await createUser(testApp.db);
    const start = newClock();
    await atTime(start, async () => {
      const wrong = await failTimes(5, () => postLogin({ username: user.username }, 'wrong-password'));
      expect(wrong).toEqual([401, 401, 401, 401, 401]);
      const wrongAnswer = answer(await postLogin({ username: user.username }, 'wrong-password'));
      const locked = await postLogin({ username: user.username }, user.password);
      expectEnvelope(locked, 401, INVALID_CREDENTIALS);
      expect(answer(locked)).toEqual(wrongAnswer);
      expect(locked.headers['retry-after']).toBeUndefined();
      // /auth/verify shares the account's counter, and so does its email.
      const verified = await verify({ email: user.email.toUpperCase() }, user.password);
      expectEnvelope(verified, 401, INVALID_CREDENTIALS);
    });
    expect(await attemptReasons(user.username)).toEqual(sorted(...Array(5).fill('bad_password'), 'locked', 'locked'));
    expect(await attemptReasons(user.email.toUpperCase())).toEqual(['locked']);
    expect(await testApp.db.session.count({ where: { userId: user.id } })).toBe(0);
  });

  it('records the lock in the account history (account_locked) and each refused login', async () => {
    const user = await createUser(testApp.db);
    await atTime(newClock(), async () => {
      await failTimes(5, () => verify({ username: user.username }, 'nope'));
      await postLogin({ username: user.username }, user.password);
    });
    // The refused login's entry is written off the response path (see login.test.ts): it lands shortly after.
    const logs = await vi.waitFor(async () => {
      const entries = await testApp.db.authLog.findMany({ where: { userId: user.id }, orderBy: { action: 'asc' } });
      expect(
        entries.map((log) => [log.action, log.success, (log.details as { reason?: string } | null)?.reason]),
      ).toEqual([
        ['account_locked', false, undefined],
        ['login', false, 'locked'],
      ]);
      return entries;
    });
    expect(logs[0]?.details).toEqual({
      failures: 5,
      lock_count: 1,
      lock_seconds: 30,
      locked_until: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(logs[0]?.ip).toBe('127.0.0.1');
  });

  it('lets the right password in once the lock has ended, and a success forgets the failures', async () => {
    const user = await createUser(testApp.db);
    const start = newClock();
    await atTime(start, () => failTimes(5, () => verify({ username: user.username }, 'nope')));
    await atTime(start + 29 * SECOND, async () => {
      expect((await verify({ username: user.username }, user.password)).statusCode).toBe(401);
    });
    await atTime(start + 30 * SECOND, async () => {
      const session = await login(testApp, user, applicationId);
      expect(session.access_token).toBeTypeOf('string');
    });
    // Counted from zero again: four failures and the right password still works.
    await atTime(start + 31 * SECOND, async () => {
      expect(await failTimes(4, () => verify({ username: user.username }, 'nope'))).toEqual([401, 401, 401, 401]);
      expect((await verify({ username: user.username }, user.password)).statusCode).toBe(200);
    });
  });

  it('makes each further lock longer, up to the maximum', async () => {
    const user = await createUser(testApp.db);
    let now = newClock();
    for (const seconds of [30, 60, 120, 240, 480, 900, 900]) {
      await atTime(now, () => failTimes(5, () => verify({ username: user.username }, 'nope')));
      // Still locked a second before the end.
      await atTime(now + (seconds - 1) * SECOND, async () => {
        expect((await verify({ username: user.username }, user.password)).statusCode).toBe(401);
      });
      now += seconds * SECOND;
    }
    const locks = await testApp.db.authLog.findMany({ where: { userId: user.id, action: 'account_locked' } });
    expect(locks.map((log) => (log.details as { lock_seconds: number }).lock_seconds).sort((a, b) => a - b)).toEqual([
      30, 60, 120, 240, 480, 900, 900,
    ]);
    await atTime(now, async () => {
      expect((await verify({ username: user.username }, user.password)).statusCode).toBe(200);
    });
  });

  it('forgets failures older than BACKOFF_RESET_SECONDS', async () => {
    const user = await createUser(testApp.db);
    const start = newClock();
    await atTime(start, () => failTimes(4, () => verify({ username: user.username }, 'nope')));
    await atTime(start + 900 * SECOND, async () => {
      expect(await failTimes(4, () => verify({ username: user.username }, 'nope'))).toEqual([401, 401, 401, 401]);
      expect((await verify({ username: user.username }, user.password)).statusCode).toBe(200);
    });
  });

  it('counts 20 simultaneous failures exactly: 5 checked, 15 refused as locked, one lock', async () => {
    const user = await createUser(testApp.db);
    await atTime(newClock(), async () => {
      const responses = await Promise.all(
        Array.from({ length: 20 }, () => verify({ username: user.username }, 'nope')),
      );
      expect(responses.map((response) => response.statusCode)).toEqual(Array(20).fill(401));
      expect(new Set(responses.map((response) => response.body)).size).toBe(1);
      expect((await verify({ username: user.username }, user.password)).statusCode).toBe(401);
    });
    const reasons = await attemptReasons(user.username);
    expect(reasons.filter((reason) => reason === 'bad_password')).toHaveLength(5);
    expect(reasons.filter((reason) => reason === 'locked')).toHaveLength(16);
    expect(await testApp.db.authLog.count({ where: { userId: user.id, action: 'account_locked' } })).toBe(1);
    expect(await testApp.db.credentialBackoff.findUnique({ where: { key: `user:${user.id}` } })).toMatchObject({
      lockCount: 1,
    });
  });

  it('shares the state between two instances on one database', async () => {
    const user = await createUser(testApp.db);
    await atTime(newClock(), async () => {
      await failTimes(3, () => verify({ username: user.username }, 'nope', testApp.app));
      await failTimes(2, () => postLogin({ username: user.username }, 'nope', replica));
      expect((await verify({ username: user.username }, user.password, testApp.app)).statusCode).toBe(401);
      expect((await postLogin({ username: user.username }, user.password, replica)).statusCode).toBe(401);
    });
    expect(await attemptReasons(user.username)).toEqual(sorted(...Array(5).fill('bad_password'), 'locked', 'locked'));
  });

  it('throttles an unknown username exactly like a known one', async () => {
    const known = await createUser(testApp.db);
    const ghost = unique('ghost');
    const start = newClock();
    const run = (username: string, password: string) =>
      atTime(start, async () => {
        const answers = [];
        for (let i = 0; i < 5; i++) answers.push(answer(await postLogin({ username }, 'nope')));
        answers.push(answer(await postLogin({ username }, password)));
        answers.push(answer(await verify({ username }, password)));
        return answers;
      });
    const knownAnswers = await run(known.username, known.password);
    const ghostAnswers = await run(ghost, 'anything-at-all');
    expect(ghostAnswers).toEqual(knownAnswers);
    expect(await attemptReasons(ghost)).toEqual(sorted(...Array(5).fill('unknown_user'), 'locked', 'locked'));
    // The lock of an unknown name ends as well.
    await atTime(start + 30 * SECOND, async () => {
      const after = await postLogin({ username: ghost }, 'nope');
      expect(answer(after)).toEqual(knownAnswers[0]);
    });
    expect(await attemptReasons(ghost)).toEqual(sorted(...Array(6).fill('unknown_user'), 'locked', 'locked'));
  });

  it('does not count a login refused for its application (no password was checked)', async () => {
    const user = await createUser(testApp.db);
    await atTime(newClock(), async () => {
      for (let i = 0; i < 6; i++) {
        const response = await testApp.app.inject({
          method: 'POST',
          url: '/auth/login',
          payload: { username: user.username, password: 'nope', application_id: 'no-such-application' },
        });
        expect(response.statusCode).not.toBe(200);
      }
      expect((await postLogin({ username: user.username }, user.password)).statusCode).toBe(200);
    });
  });
});
