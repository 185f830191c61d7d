import { describe, expect, it } from 'vitest';
import { clientSecretMatches, generateClientSecret, hashClientSecret } from '../../src/services/client-secrets.js';

const pepper = 'pepper-0123456789abcdef0123456789abcdef';

describe('client secrets', () => {
  it('generates distinct UUID-shaped secrets (122 random bits)', () => {
    const secrets = new Set(Array.from({ length: 1000 }, generateClientSecret));
    expect(secrets.size).toBe(1000);
    for (const secret of secrets)
      expect(secret).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('stores a keyed hash, never the secret', () => {
    const secret = generateClientSecret();
    const stored = hashClientSecret(secret, pepper);
    expect(stored).toMatch(/^hmac-sha256\$[A-Za-z0-9_-]{43}$/);
    expect(stored).not.toContain(secret);
    expect(hashClientSecret(secret, `${pepper}x`)).not.toBe(stored);
  });

  it('accepts the secret and refuses one differing in its last character or under another pepper', () => {
    const secret = generateClientSecret();
    const stored = hashClientSecret(secret, pepper);
    expect(clientSecretMatches(secret, stored, pepper)).toBe(true);
    const last = secret.at(-1) === '0' ? '1' : '0';
    expect(clientSecretMatches(`${secret.slice(0, -1)}${last}`, stored, pepper)).toBe(false);
    expect(clientSecretMatches(secret, stored, `${pepper}x`)).toBe(false);
    expect(clientSecretMatches(secret, 'garbage', pepper)).toBe(false);
  });
});
