import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import pLimit from 'p-limit';

// argon2 runs on libuv's thread pool (4 threads). With more hashes in flight than cores they only fight over the CPU
// and the memory bus: measured on 2 vCPUs at OWASP's minimum, 2 at a time verify ~30% more per second than 4, and the
// event loop (validate, refresh) keeps its share of the CPU. Further hashes wait their turn here, in arrival order.
const hashingSlots = pLimit(availableParallelism());

/** argon2id cost parameters (configuration; production defaults are OWASP's minimum, tests use cheap ones). */
export interface PasswordHashParams {
  memoryKib: number;
  iterations: number;
  parallelism: number;
}

/** An argon2id PHC string for `password` with the given cost. */
export function hashPassword(password: string, params: PasswordHashParams): Promise<string> {
  return hashingSlots(() =>
    argon2.hash(password, {
      type: argon2.argon2id,
      memoryCost: params.memoryKib,
      timeCost: params.iterations,
      parallelism: params.parallelism,
    }),
  );
}

/** Whether `password` matches `hash` (argon2 compares in constant time). */
export function verifyPassword(hash: string, password: string): Promise<boolean> {
  return hashingSlots(() => argon2.verify(hash, password));
}

/**
 * Whether a stored hash is weaker than the current parameters (or not argon2id v19) and should be upgraded. Only
 * weaker: during a rolling deploy an instance still on older settings must not downgrade hashes already upgraded.
 */
export function passwordHashNeedsUpgrade(hash: string, params: PasswordHashParams): boolean {
  // PHC string: $argon2id$v=19$m=19456,t=2,p=1$salt$hash (the order of m, t, p varies between libraries).
  const [, algorithm, version, settings] = hash.split('$');
  if (algorithm !== 'argon2id' || version !== 'v=19' || settings === undefined) return true;
  const cost = Object.fromEntries(settings.split(',').map((pair) => pair.split('=') as [string, string]));
  const [memoryKib, iterations, parallelism] = [Number(cost.m), Number(cost.t), Number(cost.p)];
  if (![memoryKib, iterations, parallelism].every(Number.isInteger)) return true;
  return memoryKib < params.memoryKib || iterations < params.iterations || parallelism < params.parallelism;
}
