/** The JWS algorithms this package signs and verifies with. */
export type SigningAlgorithm = 'ES256' | 'EdDSA' | 'HS256' | 'RS256';

/** The asymmetric algorithms, the only ones whose keys may be published. */
export type AsymmetricAlgorithm = Exclude<SigningAlgorithm, 'HS256'>;

/** Every supported algorithm, for validating configuration. */
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = Object.freeze(['ES256', 'EdDSA', 'HS256', 'RS256']);

/**
 * The default asymmetric algorithm for new deployments.
 *
 * ES256 because it measured faster on the hot path: `bench/algorithms.ts` (Node 20.20, 2 vCPU, this package's own
 * verifyJwt/signJwt) gave ES256 about 18,000 verifications/s against EdDSA's 14,400 with 32 in flight (6,600 vs 5,700
 * one at a time), and 37,000 vs 32,000 signatures/s with 32 in flight; EdDSA was ahead only for one-at-a-time signing
 * (10,700 vs 9,500/s). Tokens are the same size (64-byte signatures). Node's Web Crypto uses OpenSSL 3, whose P-256
 * code is assembly-optimised; re-run the bench before changing this on another runtime.
 */
export const DEFAULT_ALGORITHM: AsymmetricAlgorithm = 'ES256';
