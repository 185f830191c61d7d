import type { webcrypto } from 'node:crypto';
import type { SigningAlgorithm } from '../algorithms.js';
import type { CryptoKey } from '../types.js';

type ImportParams =
  | webcrypto.EcKeyImportParams
  | webcrypto.RsaHashedImportParams
  | webcrypto.HmacImportParams
  | webcrypto.Algorithm;

/** The Web Crypto algorithm each JWS algorithm imports its keys with (the parameters `jose` checks keys against). */
export const IMPORT_PARAMS: Readonly<Record<SigningAlgorithm, ImportParams>> = {
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  EdDSA: { name: 'Ed25519' },
  HS256: { name: 'HMAC', hash: 'SHA-256' },
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
};

/**
 * Whether `key` can verify `alg` signatures. A key source other than a KeySet (a JWKS resolver) could hand back any
 * key; this is the guard against algorithm confusion, e.g. an HS256 token checked with a public key as HMAC secret.
 */
export function keyFitsAlgorithm(key: unknown, alg: SigningAlgorithm): key is CryptoKey {
  if (!isCryptoKey(key)) return false;
  const algorithm = key.algorithm as { name: string; namedCurve?: string; hash?: { name: string } };
  switch (alg) {
    case 'ES256':
      return key.type === 'public' && algorithm.name === 'ECDSA' && algorithm.namedCurve === 'P-256';
    case 'EdDSA':
      return key.type === 'public' && algorithm.name === 'Ed25519';
    case 'RS256':
      return key.type === 'public' && algorithm.name === 'RSASSA-PKCS1-v1_5' && algorithm.hash?.name === 'SHA-256';
    case 'HS256':
      return key.type === 'secret' && algorithm.name === 'HMAC' && algorithm.hash?.name === 'SHA-256';
  }
}

function isCryptoKey(value: unknown): value is CryptoKey {
  return (value as { [Symbol.toStringTag]?: unknown } | null)?.[Symbol.toStringTag] === 'CryptoKey';
}
