export {
  type AsymmetricAlgorithm,
  DEFAULT_ALGORITHM,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
} from './algorithms.js';
export { createRemoteKeySet, type RemoteKeySet, type RemoteKeySetOptions } from './create-remote-key-set.js';
export { decodeUnverifiedClaims } from './decode-unverified-claims.js';
export { JwtCoreError, type JwtCoreErrorCode } from './errors.js';
export { exportJwks } from './export-jwks.js';
export { generateSigningKey } from './generate-signing-key.js';
export {
  importKeySet,
  type KeySetConfig,
  type PemKeyConfig,
  type SecretKeyConfig,
} from './import-key-set.js';
export { keySetAlgorithms } from './key-set-algorithms.js';
export { loadOrCreateDevKeySet } from './load-dev-key-set.js';
export { type IssuedClaims, type SignedJwt, type SignJwtOptions, signJwt } from './sign-jwt.js';
export type {
  CryptoKey,
  JwkSet,
  KeySet,
  PrivateJwk,
  PublicJwk,
  SigningKey,
  VerificationKey,
} from './types.js';
export { VerifiedTokenCache } from './verified-token-cache.js';
export {
  type JwksResolver,
  type VerifiedClaims,
  type VerifiedHeader,
  type VerifiedJwt,
  type VerifyJwtOptions,
  verifyJwt,
} from './verify-jwt.js';
