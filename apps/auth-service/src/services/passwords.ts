import argon2 from 'argon2';

/** argon2id cost parameters (configuration; production defaults are OWASP's minimum, tests use cheap ones). */
export interface PasswordHashParams {
  memoryKib: number;
  iterations: number;
  parallelism: number;
}

/** An argon2id PHC string for `password` with the given cost. */
export function hashPassword(password: string, params: PasswordHashParams): Promise<string> {
  return argon2.hash(password, {
    type: argon2.argon2id,
    memoryCost: params.memoryKib,
    timeCost: params.iterations,
    parallelism: params.parallelism,
  });
}

/** Whether `password` matches `hash` (argon2 compares in constant time). */
export function verifyPassword(hash: string, password: string): Promise<boolean> {
  return argon2.verify(hash, password);
}

/** Whether a stored hash was made with other parameters than the current ones and should be upgraded. */
export function passwordHashNeedsUpgrade(hash: string, params: PasswordHashParams): boolean {
  return argon2.needsRehash(hash, {
    memoryCost: params.memoryKib,
    timeCost: params.iterations,
    parallelism: params.parallelism,
  });
}
