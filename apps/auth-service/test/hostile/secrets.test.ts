// Passwords: a huge one is refused before anything is hashed or written, a long Unicode one works exactly (no
// normalization, no truncation), and an unknown user is indistinguishable from a wrong password, in the answer and in
// its timing (medians within 10 %, measured with argon2 costly enough to dominate the noise).

import { growth, tableCounter, UNLIMITED } from '@mxp/testing/hostile-requests';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createApplication,
  createUser,
  expectEnvelope,
  INVALID_CREDENTIALS,
  startApp,
  type TestApp,
  type TestUser,
} from '../routes/support.js';

/** Headers that differ between any two responses by design. */
function comparable(response: LightMyRequestResponse) {
  const { 'x-request-id': _id, date: _date, ...headers } = response.headers;
  return { status: response.statusCode, headers, body: response.body };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

let lastAddress = 0;
/** A client address never used before: every measured request starts from the same rate-limit state. */
function freshIp(): string {
  lastAddress += 1;
  return `10.77.${(lastAddress >> 8) & 255}.${lastAddress & 255}`;
}

describe('passwords and the answers about them', () => {
  let testApp: TestApp;
  let user: TestUser;
  let applicationId: string;
  let counts: () => Promise<Record<string, number>>;
  beforeAll(async () => {
    testApp = await startApp(UNLIMITED);
    user = await createUser(testApp.db);
    applicationId = (await createApplication(testApp.db)).id;
    counts = await tableCounter(testApp.db, 'auth');
  });
  afterAll(async () => {
    await testApp?.close();
  });

  it('a 1 MB password is refused (413) at once: nothing hashed, no attempt, no row of any kind', async () => {
    const password = 'p'.repeat(1024 * 1024);
    for (const [url, extra] of [
      ['/auth/verify', {}],
      ['/auth/login', { application_id: applicationId }],
    ] as const) {
      const timings: number[] = [];
      for (let round = 0; round < 5; round += 1) {
        const before = await counts();
        const started = performance.now();
        const response = await testApp.app.inject({
          method: 'POST',
          url,
          payload: { username: user.username, password, ...extra },
        });
        timings.push(performance.now() - started);
        expectEnvelope(response, 413);
        expect(growth(before, await counts()), url).toEqual({});
      }
      expect(median(timings), `${url}: ${timings.map((t) => t.toFixed(1)).join(', ')} ms`).toBeLessThan(100);
    }
  });

  it('a password within the body limit but over 1024 characters is refused (400) before hashing, without a row', async () => {
    for (const password of ['p'.repeat(1025), '😀'.repeat(1025), 'p'.repeat(60_000)]) {
      const before = await counts();
      const started = performance.now();
      const response = await testApp.app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { username: user.username, password, application_id: applicationId },
      });
      const elapsed = performance.now() - started;
      expectEnvelope(response, 400);
      expect(growth(before, await counts())).toEqual({});
      expect(elapsed).toBeLessThan(100);
    }
  });

  it('a long Unicode password (1024 code points: astral, combining, RTL, CJK) works exactly, and nothing near it does', async () => {
    // NFC "é" and NFD "e\u0301" both appear: a normalizing service would accept the other form.
    const codePoints = [...'😀ée\u0301ש漢\u200d Ωﬁ𝔸'];
    const password = Array.from({ length: 1024 }, (_, index) => codePoints[index % codePoints.length]).join('');
    expect([...password]).toHaveLength(1024);
    const owner = await createUser(testApp.db, { password });
    const attempt = (candidate: string, url = '/auth/login') =>
      testApp.app.inject({
        method: 'POST',
        url,
        payload: {
          username: owner.username,
          password: candidate,
          ...(url === '/auth/login' ? { application_id: applicationId } : {}),
        },
      });

    expect((await attempt(password)).statusCode).toBe(200);
    expect((await attempt(password, '/auth/verify')).json()).toMatchObject({ user_id: owner.id, status: 'success' });
    const nearMisses: Array<[string, string]> = [
      ['NFC-normalized', password.normalize('NFC')],
      ['NFD-normalized', password.normalize('NFD')],
      ['NFKC-normalized', password.normalize('NFKC')],
      ['last code point dropped', [...password].slice(0, -1).join('')],
      ['last code point changed', `${[...password].slice(0, -1).join('')}😁`],
      ['a trailing space', `${[...password].slice(0, -1).join('')} `],
      ['upper-cased', password.toUpperCase()],
    ];
    for (const [name, candidate] of nearMisses) {
      expect(candidate, name).not.toBe(password);
      const response = await attempt(candidate);
      // A normalization can lengthen it past the limit: refused as too long then, else as wrong.
      if ([...candidate].length > 1024) expectEnvelope(response, 400);
      else expectEnvelope(response, 401, INVALID_CREDENTIALS);
    }
  });
});

describe('unknown user and wrong password are indistinguishable', () => {
  // argon2id at m=8 MiB, t=2 (≈ 8 ms per verification here): enough work to dominate the noise of the measurements.
  const HASH = { memoryKib: 8192, iterations: 2, parallelism: 1 };
  let testApp: TestApp;
  let user: TestUser;
  let disabled: TestUser;
  let applicationId: string;
  beforeAll(async () => {
    testApp = await startApp({
      ...UNLIMITED,
      PASSWORD_HASH_MEMORY_KIB: String(HASH.memoryKib),
      PASSWORD_HASH_ITERATIONS: String(HASH.iterations),
    });
    user = await createUser(testApp.db, { params: HASH });
    disabled = await createUser(testApp.db, { params: HASH, status: 'disabled' });
    applicationId = (await createApplication(testApp.db)).id;
  });
  afterAll(async () => {
    await testApp?.close();
  });

  const unknownUser = () => ({ username: `nobody-${user.username}`, password: 'wrong password' });
  const wrongPassword = () => ({ username: user.username, password: 'wrong password' });

  for (const url of ['/auth/verify', '/auth/login']) {
    it(`${url}: unknown user, wrong password and disabled user get the same status, headers (but request id and date) and body`, async () => {
      const cases = [unknownUser(), wrongPassword(), { username: disabled.username, password: disabled.password }];
      const answers = await Promise.all(cases.map((body) => signIn(testApp, url, applicationId, body)));
      const [first, ...rest] = answers.map(comparable);
      expect(first?.status).toBe(401);
      expect(JSON.parse(first?.body ?? '{}')).toEqual({ code: 401, status: 'error', message: INVALID_CREDENTIALS });
      for (const other of rest) expect(other).toEqual(first);
    });
  }

  it('/auth/verify: median times of unknown user and wrong password within 10 % (200 interleaved rounds)', async () => {
    const { medians, relative, report } = await compareTimings(
      testApp,
      '/auth/verify',
      applicationId,
      [unknownUser(), wrongPassword()],
      200,
    );
    // The argon2 verification is really done (it alone takes milliseconds at these settings).
    expect(Math.min(...medians), report).toBeGreaterThan(HASH.iterations);
    const [unknown = 0, wrong = 0] = relative;
    expect(Math.abs(wrong - unknown) / Math.min(unknown, wrong), report).toBeLessThanOrEqual(0.1);
  }, 60_000);
});

describe('regression: a failed login of a known user takes longer than one of an unknown user', () => {
  // src/routes/credentials/index.ts (POST /login): for a known user a failed login also writes an AuthLog (recordLog)
  // before answering, an unknown user's does not, so the 401 of a real account comes one INSERT later. Measured here
  // with the brief's settings (argon2 8 MiB, t=2, 200 rounds) the gap is 1.3-2.2 ms, 9-15 % of the median: around
  // the 10 % line, hence too noisy to pin. This test makes the cause visible deterministically: the test database
  // (a throwaway copy) gets a trigger that makes every auth_logs insert take 20 ms, and nothing else changes. /auth/verify,
  // which writes no AuthLog, is the control. Fix: write the failure's AuthLog after the response is sent (or off the
  // request's critical path), so that both failures answer after the same work.
  let testApp: TestApp;
  let user: TestUser;
  let applicationId: string;
  beforeAll(async () => {
    testApp = await startApp(UNLIMITED);
    user = await createUser(testApp.db);
    applicationId = (await createApplication(testApp.db)).id;
    await testApp.db.$executeRawUnsafe(
      `CREATE FUNCTION auth.slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.02); RETURN NEW; END $$`,
    );
    await testApp.db.$executeRawUnsafe(
      'CREATE TRIGGER slow_insert BEFORE INSERT ON auth.auth_logs FOR EACH ROW EXECUTE FUNCTION auth.slow_insert()',
    );
  });
  afterAll(async () => {
    await testApp?.close();
  });
  const cases = () => [
    { username: `nobody-${user.username}`, password: 'wrong password' },
    { username: user.username, password: 'wrong password' },
  ];

  it('control: /auth/verify answers both in the same time with slow audit-log inserts', async () => {
    const { medians, report } = await compareTimings(testApp, '/auth/verify', applicationId, cases(), 30);
    const [unknown = 0, wrong = 0] = medians;
    expect(Math.abs(wrong - unknown), report).toBeLessThan(10);
  });

  it('/auth/login answers both in the same time with slow audit-log inserts', async () => {
    const { medians, report } = await compareTimings(testApp, '/auth/login', applicationId, cases(), 30);
    const [unknown = 0, wrong = 0] = medians;
    expect(Math.abs(wrong - unknown), report).toBeLessThan(10);
  });
});

function signIn(testApp: TestApp, url: string, applicationId: string, body: Record<string, string>) {
  return testApp.app.inject({
    method: 'POST',
    url,
    remoteAddress: freshIp(),
    headers: { 'user-agent': 'timing-test' },
    payload: url === '/auth/login' ? { ...body, application_id: applicationId } : body,
  });
}

/**
 * Times of each case over `rounds` interleaved rounds (after a warm-up), every case answered 401: the median time,
 * and the median of its time relative to its round's mean. The cases of a round run back to back, so a machine that
 * slows down or speeds up during the measurement moves all of them together, which the relative times cancel out.
 */
async function compareTimings(
  testApp: TestApp,
  url: string,
  applicationId: string,
  cases: Array<Record<string, string>>,
  rounds: number,
): Promise<{ medians: number[]; relative: number[]; report: string }> {
  const warmUp = 10;
  const times = cases.map((): number[] => []);
  const ratios = cases.map((): number[] => []);
  for (let round = 0; round < rounds + warmUp; round += 1) {
    const roundTimes: number[] = [];
    // A different order every round, so that no case always follows another.
    for (let index = 0; index < cases.length; index += 1) {
      const which = (index + round) % cases.length;
      const started = performance.now();
      const response = await signIn(testApp, url, applicationId, cases[which] ?? {});
      roundTimes[which] = performance.now() - started;
      expect(response.statusCode).toBe(401);
    }
    if (round < warmUp) continue;
    const mean = roundTimes.reduce((sum, value) => sum + value, 0) / roundTimes.length;
    roundTimes.forEach((value, which) => {
      times[which]?.push(value);
      ratios[which]?.push(value / mean);
    });
  }
  const medians = times.map(median);
  const relative = ratios.map(median);
  const report = `${url}: ${medians
    .map((value, index) => {
      const who = cases[index]?.username?.startsWith('nobody') ? 'unknown user' : 'known user';
      return `${who} ${value.toFixed(2)} ms (×${(relative[index] ?? 0).toFixed(3)})`;
    })
    .join(', ')}`;
  return { medians, relative, report };
}
