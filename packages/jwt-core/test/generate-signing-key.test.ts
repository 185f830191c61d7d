import * as jose from 'jose';
import { describe, expect, it } from 'vitest';
import { generateSigningKey, type SigningAlgorithm } from '../src/index.js';
import { expectJwtError } from './helpers.js';

describe('generateSigningKey', () => {
  it.each([
    ['ES256', { kty: 'EC', crv: 'P-256' }],
    ['EdDSA', { kty: 'OKP', crv: 'Ed25519' }],
    ['RS256', { kty: 'RSA', e: 'AQAB' }],
  ] as const)('generates a private %s JWK whose kid is its RFC 7638 thumbprint', async (alg, shape) => {
    const jwk = await generateSigningKey(alg);
    expect(jwk).toMatchObject({ ...shape, alg, use: 'sig' });
    expect(typeof jwk.d).toBe('string');
    expect(jwk.kid).toBe(await jose.calculateJwkThumbprint(jwk as jose.JWK, 'sha256'));
    const again = await generateSigningKey(alg);
    expect(again.d).not.toBe(jwk.d);
  });

  it('generates a 32-byte HS256 secret with a random kid', async () => {
    const jwk = await generateSigningKey('HS256');
    expect(jwk).toMatchObject({ kty: 'oct', alg: 'HS256', use: 'sig' });
    expect(Buffer.from(jwk.k ?? '', 'base64url')).toHaveLength(32);
    expect(jwk.kid).not.toBe(await jose.calculateJwkThumbprint(jwk as jose.JWK, 'sha256'));
    const again = await generateSigningKey('HS256');
    expect([again.k, again.kid]).not.toContain(jwk.k);
    expect(again.kid).not.toBe(jwk.kid);
  });

  it('refuses an unsupported algorithm', async () => {
    await expectJwtError(generateSigningKey('ES384' as SigningAlgorithm), 'ERR_ARGUMENT_INVALID');
  });
});
