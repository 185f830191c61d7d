import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from './algorithms.js';
import { JwtCoreError } from './errors.js';
import type { PrivateJwk } from './types.js';

/**
 * Generates a new private signing key as a JWK with `kid`, `alg` and `use: "sig"`, ready to be stored in a JWK Set
 * and imported with `importKeySet`. Asymmetric keys get their RFC 7638 thumbprint as kid; an HS256 secret (32 random
 * bytes) gets a random kid, because a kid derived from a secret would be a published hash of that secret.
 */
export async function generateSigningKey(alg: SigningAlgorithm): Promise<PrivateJwk> {
  if (!(SIGNING_ALGORITHMS as readonly string[]).includes(alg)) {
    throw new JwtCoreError('ERR_ARGUMENT_INVALID', `alg must be one of ${SIGNING_ALGORITHMS.join(', ')}`);
  }
  if (alg === 'HS256') {
    return {
      kty: 'oct',
      k: randomBytes(32).toString('base64url'),
      kid: randomBytes(16).toString('base64url'),
      alg,
      use: 'sig',
    };
  }
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'RS256' && { modulusLength: 2048 }),
  });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk, 'sha256');
  return { ...(jwk as Omit<PrivateJwk, 'kid' | 'alg' | 'use'>), kid, alg, use: 'sig' };
}
