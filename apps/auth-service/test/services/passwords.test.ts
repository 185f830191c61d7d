import { readFileSync, readlinkSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  hashPassword,
  NICE_INCREMENT,
  PasswordHasher,
  passwordHashingMode,
  passwordHashNeedsUpgrade,
  unmatchablePasswordHash,
  verifyPassword,
} from '../../src/services/passwords.js';

const cheap = { memoryKib: 1024, iterations: 1, parallelism: 1 };

describe('passwords', () => {
  it('hashes with argon2id and the given cost', async () => {
    const hash = await hashPassword('correct horse', cheap);
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(hash).not.toContain('correct horse');
  });

  it('verifies exactly: long Unicode passwords work, one changed character does not', async () => {
    const password = `${'ñ😀é'.repeat(40)}x`;
    const hash = await hashPassword(password, cheap);
    expect(await verifyPassword(hash, password)).toBe(true);
    expect(await verifyPassword(hash, `${password.slice(0, -1)}y`)).toBe(false);
    expect(await verifyPassword(hash, password.normalize('NFD'))).toBe(false);
  });

  it('verifies hashes written by the `argon2` package (m, p, t order) that users already have', async () => {
    const stored = '$argon2id$v=19$m=1024,p=1,t=1$kuFLmz1YyPYuihwBQucBVQ$S8mP0IXkE0Bbidih5erSWGSTUrScYgkdAE1T7erJ5XE';
    expect(await verifyPassword(stored, 'correct horse battery staple')).toBe(true);
    expect(await verifyPassword(stored, 'correct horse battery stapler')).toBe(false);
  });

  it('rejects a malformed stored hash instead of answering', async () => {
    await expect(verifyPassword('not a hash', 'pw')).rejects.toThrow();
  });

  it('makes an unmatchable hash with the given cost that verifies like a real one (unknown users)', async () => {
    const params = { memoryKib: 2048, iterations: 3, parallelism: 1 };
    const dummy = unmatchablePasswordHash(params);
    expect(dummy).toMatch(/^\$argon2id\$v=19\$m=2048,t=3,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(unmatchablePasswordHash(params)).not.toBe(dummy);
    // Same parameters as a real hash: no upgrade path differs, and verification runs (false, not an error).
    expect(passwordHashNeedsUpgrade(dummy, params)).toBe(false);
    for (const password of ['', 'pw', 'no user has this password']) {
      expect(await verifyPassword(dummy, password)).toBe(false);
    }
  });

  it('tells when a stored hash has older parameters', async () => {
    const hash = await hashPassword('pw', cheap);
    expect(passwordHashNeedsUpgrade(hash, cheap)).toBe(false);
    expect(passwordHashNeedsUpgrade(hash, { ...cheap, iterations: 2 })).toBe(true);
  });
});

describe('passwordHashNeedsUpgrade', () => {
  const current = { memoryKib: 19_456, iterations: 2, parallelism: 1 };

  it('upgrades weaker, foreign or malformed hashes only', () => {
    expect(passwordHashNeedsUpgrade('$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA', current)).toBe(false);
    expect(passwordHashNeedsUpgrade('$argon2id$v=19$m=19456,p=1,t=2$c2FsdA$aGFzaA', current)).toBe(false);
    expect(passwordHashNeedsUpgrade('$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA', current)).toBe(false);
    expect(passwordHashNeedsUpgrade('$argon2id$v=19$m=19456,t=1,p=1$c2FsdA$aGFzaA', current)).toBe(true);
    expect(passwordHashNeedsUpgrade('$argon2id$v=19$m=4096,t=2,p=1$c2FsdA$aGFzaA', current)).toBe(true);
    expect(passwordHashNeedsUpgrade('$argon2i$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA', current)).toBe(true);
    expect(passwordHashNeedsUpgrade('$argon2id$v=16$m=19456,t=2,p=1$c2FsdA$aGFzaA', current)).toBe(true);
    expect(passwordHashNeedsUpgrade('not a hash', current)).toBe(true);
  });
});

/** Fields of /proc/self/task/<tid>/stat after the command name: [11] utime, [12] stime, [16] nice (man 5 proc). */
function threadStat(tid: number): { nice: number; cpuTicks: number } {
  const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return { nice: Number(fields[16]), cpuTicks: Number(fields[11]) + Number(fields[12]) };
}

describe.runIf(process.platform === 'linux')('hashing threads (Linux)', () => {
  it('run at a lower priority than the event loop, which keeps its own, and do the hashing', async () => {
    const mode = await passwordHashingMode();
    if (mode.mode !== 'low-priority-workers') throw new Error(`hashing fell back: ${mode.reason}`);
    const eventLoop = threadStat(Number(readlinkSync('/proc/thread-self').split('/').pop()));
    const expected = Math.min(19, eventLoop.nice + NICE_INCREMENT);
    expect(expected).toBeGreaterThan(eventLoop.nice);
    expect(mode.nice).toBe(expected);
    expect(mode.threadIds.length).toBeGreaterThan(0);
    // What the kernel says, not what the service believes: each thread of this process, by its id.
    for (const tid of mode.threadIds) expect(threadStat(tid).nice).toBe(expected);

    // The CPU of the hashes is spent on those threads (a hash on libuv's pool would not count there).
    const ticks = () => mode.threadIds.reduce((sum, tid) => sum + threadStat(tid).cpuTicks, 0);
    const before = ticks();
    const params = { memoryKib: 19_456, iterations: 2, parallelism: 1 };
    const hash = await hashPassword('pw', params);
    await Promise.all(Array.from({ length: 12 }, () => verifyPassword(hash, 'pw')));
    // 13 hashes of ~10 ms CPU each, in 10 ms clock ticks.
    expect(ticks() - before).toBeGreaterThanOrEqual(6);
  });
});

describe('PasswordHasher fallback', () => {
  const elsewhere = new PasswordHasher({ platform: 'darwin' });

  it("uses libuv's pool where per-thread priority is not available, with the same hashes", async () => {
    expect(await elsewhere.mode()).toEqual({ mode: 'thread-pool', reason: 'per-thread priority needs Linux' });
    const hash = await elsewhere.hash('pw', cheap);
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    expect(await elsewhere.verify(hash, 'pw')).toBe(true);
    expect(await verifyPassword(hash, 'pw')).toBe(true);
    expect(await elsewhere.verify(await hashPassword('pw', cheap), 'px')).toBe(false);
  });
});

describe.runIf(process.platform === 'linux')('PasswordHasher', () => {
  const hasher = new PasswordHasher({ threads: 1 });
  afterAll(() => hasher.close());

  it('queues hashes beyond its threads, answers each its own, and starts again after close', async () => {
    const hashes = await Promise.all(['a', 'b', 'c'].map((password) => hasher.hash(password, cheap)));
    const answers = await Promise.all(
      hashes.flatMap((hash, i) =>
        ['a', 'b', 'c'].map((password, j) => hasher.verify(hash, password).then((ok) => ok === (i === j))),
      ),
    );
    expect(answers.every(Boolean)).toBe(true);
    expect((await hasher.mode()).mode).toBe('low-priority-workers');
    await hasher.close();
    expect(await hasher.verify(hashes[0] as string, 'a')).toBe(true);
  });
});
