import type { webcrypto } from 'node:crypto';
import type { AsymmetricAlgorithm, SigningAlgorithm } from './algorithms.js';

/** A Web Crypto key, as `jose` consumes it. */
export type CryptoKey = webcrypto.CryptoKey;

/** A public JWK as published in a JWKS: never private members, always `kid`, `alg` and `use`. */
export interface PublicJwk {
  readonly kty: 'EC' | 'OKP' | 'RSA';
  readonly kid: string;
  readonly alg: AsymmetricAlgorithm;
  readonly use: 'sig';
  readonly crv?: string;
  readonly x?: string;
  readonly y?: string;
  readonly n?: string;
  readonly e?: string;
}

/** A private JWK (or, for HS256, an `oct` JWK holding the secret) as stored in configuration. */
export interface PrivateJwk {
  kty: 'EC' | 'OKP' | 'RSA' | 'oct';
  kid: string;
  alg: SigningAlgorithm;
  use: 'sig';
  crv?: string;
  x?: string;
  y?: string;
  d?: string;
  n?: string;
  e?: string;
  p?: string;
  q?: string;
  dp?: string;
  dq?: string;
  qi?: string;
  k?: string;
}

/** A JWK Set document: `{ "keys": [...] }`. */
export interface JwkSet<K = PrivateJwk> {
  keys: K[];
}

/** A key that verifies tokens whose header carries its `kid`. */
export interface VerificationKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /** The public key, or the shared secret for HS256; imported once when the key set was built. */
  readonly key: CryptoKey;
  /** What `exportJwks` publishes; `undefined` for HS256, whose secret is never published. */
  readonly publicJwk: PublicJwk | undefined;
}

/** The key that signs new tokens. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /** The private key (not extractable) or the HS256 secret; imported once when the key set was built. */
  readonly key: CryptoKey;
}

/**
 * Imported keys: exactly one signs, every key (the signing one included) verifies. Rotation is adding a new
 * signing key while the previous one stays in `verificationKeys` until its tokens have expired.
 */
export interface KeySet {
  readonly signingKey: SigningKey;
  /** By `kid`. */
  readonly verificationKeys: ReadonlyMap<string, VerificationKey>;
}
