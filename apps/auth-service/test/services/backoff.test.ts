import type { PrismaClient } from '@mxp/db';
import { type BackoffPolicy, lockSeconds, reserveAttempt } from '@mxp/db/backoff';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAuthServiceConfig } from '../../src/config.js';
import {
  backoffPolicy,
  checkCredentialsWithBackoff,
  clearSignInFailures,
  reserveSignInByIdentifier,
} from '../../src/services/backoff.js';
import { hashPassword } from '../../src/services/passwords.js';
import { startTestApp } from '../helpers.js';

const POLICY: BackoffPolicy = { maxFailures: 5, baseSeconds: 30, maxSeconds: 900, resetSeconds: 900 };
const T0 = new Date('2031-05-01T10:00:00.000Z');
const CHEAP = { memoryKib: 1024, iterations: 1, parallelism: 1 };

function at(start: Date, seconds: number): Date {
  return new Date(start.getTime() + seconds * 1000);
}

describe('brute-force backoff (auth.credential_backoff)', () => {
  let testApp: Awaited<ReturnType<typeof startTestApp>>;
  let db: PrismaClient;
  let counter = 0;
  beforeAll(async () => {
    testApp = await startTestApp();
    db = testApp.db;
  });
  afterAll(async () => {
    await testApp.close();
  });

  function freshKey(): string {
    counter += 1;
    return `name:someone-${counter}`;
  }

  /** A sign-in attempt counted under `key` itself (the policy's mechanics; sign-ins name an identifier instead). */
  function reserveSignIn(key: string, policy: BackoffPolicy, now: Date) {
    return reserveAttempt(db, 'auth.credential_backoff', key, policy, now);
  }

  /** The key a sign-in with `identifier` counts under. */
  async function keyOf(identifier: string): Promise<string> {
    return (await reserveSignInByIdentifier(db, identifier, POLICY, T0)).key;
  }

  function row(key: string) {
    return db.credentialBackoff.findUnique({ where: { key } });
  }

  /** `count` reservations of `key` at `now`, one after the other; returns which were let through. */
  async function attempts(key: string, count: number, now: Date, policy = POLICY): Promise<boolean[]> {
    const allowed: boolean[] = [];
    for (let i = 0; i < count; i++) allowed.push((await reserveSignIn(key, policy, now)).allowed);
    return allowed;
  }

  it('reads BACKOFF_* with the documented defaults (5 failures, 30 s doubling to 900 s, forgotten after 900 s)', () => {
    const config = loadAuthServiceConfig({ DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/postgres' });
    expect(backoffPolicy(config)).toEqual(POLICY);
    const custom = loadAuthServiceConfig({
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/postgres',
      BACKOFF_MAX_FAILURES: '3',
      BACKOFF_BASE_SECONDS: '10',
      BACKOFF_MAX_SECONDS: '60',
      BACKOFF_RESET_SECONDS: '3600',
    });
    expect(backoffPolicy(custom)).toEqual({ maxFailures: 3, baseSeconds: 10, maxSeconds: 60, resetSeconds: 3600 });
    expect(() => loadAuthServiceConfig({ DATABASE_URL: 'postgresql://x@y/z', BACKOFF_MAX_FAILURES: '0' })).toThrow(
      /BACKOFF_MAX_FAILURES must be >= 1/,
    );
  });

  it('lets N attempts through, the Nth starting a lock of BACKOFF_BASE_SECONDS; the lock ends by itself', async () => {
    const key = freshKey();
    const gates = [];
    for (let i = 0; i < 5; i++) gates.push(await reserveSignIn(key, POLICY, T0));
    expect(gates.map((gate) => gate.allowed)).toEqual([true, true, true, true, true]);
    expect(gates.slice(0, 4).every((gate) => gate.allowed && gate.lock === undefined)).toBe(true);
    expect(gates[4]).toEqual({ allowed: true, lock: { until: at(T0, 30), seconds: 30, count: 1 } });

    expect(await attempts(key, 3, at(T0, 1))).toEqual([false, false, false]);
    expect(await attempts(key, 1, at(T0, 29.999))).toEqual([false]);
    // Refused attempts only count themselves: hammering a locked key does not prolong its lock.
    expect(await row(key)).toMatchObject({
      failures: 0,
      lockCount: 1,
      lockedUntil: at(T0, 30),
      lastFailureAt: T0,
      refused: 4,
    });
    expect(await attempts(key, 1, at(T0, 30))).toEqual([true]);
    expect(await row(key)).toMatchObject({ failures: 1, lockCount: 1, refused: 0 });
  });

  it('doubles each further lock up to BACKOFF_MAX_SECONDS (30, 60, 120, 240, 480, 900, 900 s)', async () => {
    const key = freshKey();
    let now = T0;
    const lengths: number[] = [];
    for (let lock = 0; lock < 7; lock++) {
      let last: Awaited<ReturnType<typeof reserveAttempt>> | undefined;
      for (let i = 0; i < 5; i++) last = await reserveSignIn(key, POLICY, now);
      if (!last?.allowed || !last.lock) throw new Error('expected a lock to start');
      lengths.push(last.lock.seconds);
      expect(last.lock.until).toEqual(at(now, last.lock.seconds));
      expect((await reserveSignIn(key, POLICY, at(last.lock.until, -0.001))).allowed).toBe(false);
      now = last.lock.until;
    }
    expect(lengths).toEqual([30, 60, 120, 240, 480, 900, 900]);
    expect(lockSeconds(POLICY, 1_000_000)).toBe(900);
  });

  it('forgets failures after BACKOFF_RESET_SECONDS without one, and past locks that long after they ended', async () => {
    const key = freshKey();
    expect(await attempts(key, 4, T0)).toEqual([true, true, true, true]);
    // 900 s after the last failure, the four are forgotten: four more do not lock.
    const later = at(T0, 900);
    expect(await attempts(key, 4, later)).toEqual([true, true, true, true]);
    expect(await row(key)).toMatchObject({ failures: 4, lockCount: 0, lockedUntil: null });
    // But four failures 899 s apart are consecutive: the fifth locks.
    const fifth = await reserveSignIn(key, POLICY, at(later, 899));
    expect(fifth.allowed && fifth.lock?.seconds).toBe(30);

    // A second lock is 60 s as long as the first ended less than 900 s before it...
    const lockEnd = at(later, 899 + 30);
    await attempts(key, 4, at(lockEnd, 899));
    const second = await reserveSignIn(key, POLICY, at(lockEnd, 899));
    expect(second.allowed && second.lock).toMatchObject({ seconds: 60, count: 2 });
    // ...and back to 30 s once 900 s have passed since a lock ended.
    const secondEnd = at(lockEnd, 899 + 60);
    await attempts(key, 4, at(secondEnd, 900));
    const third = await reserveSignIn(key, POLICY, at(secondEnd, 900));
    expect(third.allowed && third.lock).toMatchObject({ seconds: 30, count: 1 });
  });

  it('forgets everything on success, a lock started by the same attempt included', async () => {
    const key = freshKey();
    await attempts(key, 4, T0);
    await clearSignInFailures(db, key);
    expect(await row(key)).toBeNull();
    expect(await attempts(key, 4, T0)).toEqual([true, true, true, true]);
    const fifth = await reserveSignIn(key, POLICY, T0);
    expect(fifth.allowed && fifth.lock?.seconds).toBe(30);
    // The fifth attempt had the right password: its success lifts the lock it started.
    await clearSignInFailures(db, key);
    expect(await attempts(key, 1, T0)).toEqual([true]);
  });

  it('counts concurrent attempts exactly (20 at once)', async () => {
    const loose = { ...POLICY, maxFailures: 50 };
    const key = freshKey();
    const gates = await Promise.all(Array.from({ length: 20 }, () => reserveSignIn(key, loose, T0)));
    expect(gates.every((gate) => gate.allowed)).toBe(true);
    expect(await row(key)).toMatchObject({ failures: 20, lockCount: 0 });

    // With the default limit, exactly 5 of 20 simultaneous guesses are let through and exactly one starts the lock.
    const tight = freshKey();
    const raced = await Promise.all(Array.from({ length: 20 }, () => reserveSignIn(tight, POLICY, T0)));
    expect(raced.filter((gate) => gate.allowed)).toHaveLength(5);
    expect(raced.filter((gate) => gate.allowed && gate.lock)).toHaveLength(1);
    expect(await row(tight)).toMatchObject({ failures: 0, lockCount: 1, lockedUntil: at(T0, 30) });
  });

  it('locks at the first failure with BACKOFF_MAX_FAILURES=1', async () => {
    const key = freshKey();
    const one = { ...POLICY, maxFailures: 1 };
    expect(await reserveSignIn(key, one, T0)).toEqual({
      allowed: true,
      lock: { until: at(T0, 30), seconds: 30, count: 1 },
    });
    expect((await reserveSignIn(key, one, at(T0, 10))).allowed).toBe(false);
    const next = await reserveSignIn(key, one, at(T0, 30));
    expect(next.allowed && next.lock?.seconds).toBe(60);
  });

  it('bounds keys and stores U+0000 safely', async () => {
    const long = `name:${'x'.repeat(1000)}\u0000`;
    expect((await reserveSignIn(long, POLICY, T0)).allowed).toBe(true);
    expect((await reserveSignIn('name:a\u0000b', POLICY, T0)).allowed).toBe(true);
    const keys = await db.credentialBackoff.findMany({ where: { key: { startsWith: 'name:xxx' } } });
    expect(keys.map((entry) => entry.key.length)).toEqual([400]);
    expect(await row('name:a\uFFFDb')).toMatchObject({ failures: 1 });
  });

  describe('the backoff key of a sign-in', () => {
    it("is the account's for its username and its email, in any case and with surrounding spaces", async () => {
      const user = await db.user.create({
        data: { username: 'dana', email: 'dana@example.com', passwordHash: 'x' },
      });
      for (const identifier of ['dana', ' DANA ', 'dana@example.com', 'Dana@Example.COM']) {
        expect(await keyOf(identifier)).toBe(`user:${user.id}`);
      }
    });

    it('is the lower-cased identifier when it names no account', async () => {
      expect(await keyOf(' Nobody@Example.com ')).toBe('name:nobody@example.com');
    });
  });

  describe('reserveSignInByIdentifier (the lookup and the reservation in one statement)', () => {
    it("counts under the account's key and returns the user it found, by username or email", async () => {
      const user = await db.user.create({
        data: { username: 'erin', email: 'erin@example.com', passwordHash: 'x', status: 'disabled' },
      });
      const results = [];
      for (const identifier of ['erin', ' Erin@Example.com ']) {
        results.push(await reserveSignInByIdentifier(db, identifier, POLICY, T0));
      }
      expect(results.map(({ key, gate }) => ({ key, gate }))).toEqual(
        Array(2).fill({ key: `user:${user.id}`, gate: { allowed: true, lock: undefined } }),
      );
      // The whole row, disabled status and all: the password check decides on it.
      expect(results[1]?.user).toEqual(await db.user.findUniqueOrThrow({ where: { id: user.id } }));
      expect(await row(`user:${user.id}`)).toMatchObject({ failures: 2 });
    });

    // (No U+0000 here: the request guards refuse it in any body, before an identifier reaches the database.)
    it('counts an unknown identifier under its name, stored bounded, and locks it as any key', async () => {
      const identifier = ` Nobody-${'x'.repeat(500)} `;
      const policy = { ...POLICY, maxFailures: 2 };
      const first = await reserveSignInByIdentifier(db, identifier, policy, T0);
      const second = await reserveSignInByIdentifier(db, identifier, policy, T0);
      const third = await reserveSignInByIdentifier(db, identifier, policy, T0);
      const key = `name:nobody-${'x'.repeat(500)}`;
      expect(first).toEqual({ user: null, key, gate: { allowed: true, lock: undefined } });
      expect(second.gate).toEqual({ allowed: true, lock: { until: at(T0, 30), seconds: 30, count: 1 } });
      expect(third.gate).toEqual({ allowed: false });
      // Stored bounded, as every key is (clearing the returned key bounds it the same way).
      expect(await row(key.slice(0, 400))).toMatchObject({ lockCount: 1, refused: 1 });
    });
  });

  describe('checkCredentialsWithBackoff', () => {
    const settings = async (policy = POLICY) => ({
      policy,
      // Stronger than the users' hashes below, so a successful check upgrades them.
      passwordHashParams: { ...CHEAP, iterations: 2 },
      dummyPasswordHash: await hashPassword('dummy', CHEAP),
    });

    async function newUser(password: string) {
      counter += 1;
      const username = `user${counter}`;
      const user = await db.user.create({
        data: { username, email: `${username}@example.com`, passwordHash: await hashPassword(password, CHEAP) },
      });
      return { ...user, password };
    }

    it('refuses the right password while locked, with no hash upgrade, and accepts it once the lock ends', async () => {
      const user = await newUser('right-password');
      const options = await settings();
      const results = [];
      for (let i = 0; i < 5; i++) {
        results.push(await checkCredentialsWithBackoff(db, user.username, 'wrong', options, T0));
      }
      expect(results.map((result) => result.ok || result.reason)).toEqual(Array(5).fill('bad_password'));
      expect(results.map((result) => !result.ok && result.lockStarted?.seconds)).toEqual([
        undefined,
        undefined,
        undefined,
        undefined,
        30,
      ]);

      const locked = await checkCredentialsWithBackoff(db, String(user.email), 'right-password', options, at(T0, 10));
      expect(locked).toMatchObject({ ok: false, reason: 'locked', user: { id: user.id } });
      expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash).toBe(user.passwordHash);

      const after = await checkCredentialsWithBackoff(db, user.username, 'right-password', options, at(T0, 30));
      expect(after).toMatchObject({ ok: true, user: { id: user.id } });
      expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash).toMatch(/t=2/);
      expect(await row(`user:${user.id}`)).toBeNull();
    });

    it('counts a disabled account like any failure and an unknown identifier under its own name', async () => {
      const user = await newUser('pw-disabled');
      await db.user.update({ where: { id: user.id }, data: { status: 'disabled' } });
      const options = await settings({ ...POLICY, maxFailures: 2 });
      const first = await checkCredentialsWithBackoff(db, user.username, 'pw-disabled', options, T0);
      expect(first).toMatchObject({ ok: false, reason: 'user_disabled' });
      const second = await checkCredentialsWithBackoff(db, user.username, 'pw-disabled', options, T0);
      expect(second).toMatchObject({ ok: false, reason: 'user_disabled', lockStarted: { seconds: 30 } });

      const unknown = [];
      for (let i = 0; i < 3; i++) unknown.push(await checkCredentialsWithBackoff(db, 'Ghost', 'x', options, T0));
      expect(unknown.map((result) => !result.ok && result.reason)).toEqual(['unknown_user', 'unknown_user', 'locked']);
      expect(await row('name:ghost')).toMatchObject({ lockCount: 1 });
    });
  });
});
