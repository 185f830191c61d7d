import { describe, expect, it } from 'vitest';
import { hashPassword, passwordHashNeedsUpgrade, verifyPassword } from '../../src/services/passwords.js';

const cheap = { memoryKib: 1024, iterations: 1, parallelism: 1 };

describe('passwords', () => {
  it('hashes with argon2id and the given cost', async () => {
    const hash = await hashPassword('correct horse', cheap);
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=1024,p=1,t=1\$/);
    expect(hash).not.toContain('correct horse');
  });

  it('verifies exactly: long Unicode passwords work, one changed character does not', async () => {
    const password = `${'ñ😀é'.repeat(40)}x`;
    const hash = await hashPassword(password, cheap);
    expect(await verifyPassword(hash, password)).toBe(true);
    expect(await verifyPassword(hash, `${password.slice(0, -1)}y`)).toBe(false);
    expect(await verifyPassword(hash, password.normalize('NFD'))).toBe(false);
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
