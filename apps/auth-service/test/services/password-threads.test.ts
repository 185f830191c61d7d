// PASSWORD_HASH_THREADS sizes the hashing threads (in a file of its own: the threads are per process and start once).
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadAuthServiceConfig as loadConfig } from '../../src/config.js';
import { hashPassword, passwordHashingMode, verifyPassword } from '../../src/services/passwords.js';

const cheap = { memoryKib: 64, iterations: 1, parallelism: 1 };

describe('PASSWORD_HASH_THREADS', () => {
  it('defaults to 0 (one thread per CPU) and refuses what is not a small non-negative integer', () => {
    const base = { DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/x' };
    expect(loadConfig(base).PASSWORD_HASH_THREADS).toBe(0);
    expect(loadConfig({ ...base, PASSWORD_HASH_THREADS: '1' }).PASSWORD_HASH_THREADS).toBe(1);
    for (const bad of ['-1', '65', 'two', '1.5']) {
      expect(() => loadConfig({ ...base, PASSWORD_HASH_THREADS: bad }), bad).toThrow(/PASSWORD_HASH_THREADS/);
    }
  });

  it.runIf(process.platform === 'linux' && availableParallelism() > 1)(
    'starts exactly that many threads, which hash and verify',
    async () => {
      const mode = await passwordHashingMode(1);
      expect(mode).toEqual(expect.objectContaining({ mode: 'low-priority-workers', threadIds: [expect.any(Number)] }));
      // Once started, a later size does not restart them.
      expect(await passwordHashingMode(2)).toEqual(mode);
      const hash = await hashPassword('correct horse', cheap);
      expect(await verifyPassword(hash, 'correct horse')).toBe(true);
      expect(await verifyPassword(hash, 'wrong horse')).toBe(false);
    },
  );
});
