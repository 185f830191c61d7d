import { errors } from 'jose';
import { JwtCoreError } from '../errors.js';

/**
 * Translates an error thrown while `jose` verified a token into this package's codes, so callers never depend on
 * `jose` error classes. Anything unrecognised is rethrown untouched: it is a bug, not a bad token.
 */
export function mapJoseError(error: unknown): unknown {
  if (error instanceof JwtCoreError) return error;
  if (error instanceof errors.JWTExpired) {
    return new JwtCoreError('ERR_JWT_EXPIRED', 'token is expired', { claim: error.claim, cause: error });
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'typ') {
      return new JwtCoreError('ERR_JWT_TYPE_INVALID', 'unexpected "typ" header', { cause: error });
    }
    if (error.claim === 'nbf') {
      return new JwtCoreError('ERR_JWT_NOT_YET_VALID', 'token is not valid yet ("nbf")', {
        claim: 'nbf',
        cause: error,
      });
    }
    return new JwtCoreError('ERR_JWT_CLAIM_INVALID', `invalid "${error.claim}" claim: ${error.message}`, {
      claim: error.claim,
      cause: error,
    });
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return new JwtCoreError('ERR_JWS_SIGNATURE_INVALID', 'signature verification failed', { cause: error });
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    // After verifyJwt's own header checks, "not supported" can only mean the alg does not fit the resolved key
    // (e.g. HS256 against a JWKS of public keys).
    return new JwtCoreError('ERR_JOSE_ALG_NOT_ALLOWED', `algorithm not allowed: ${error.message}`, { cause: error });
  }
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return new JwtCoreError('ERR_JWKS_NO_MATCHING_KEY', 'no key matches the token "kid"', { cause: error });
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) {
    return new JwtCoreError('ERR_JWS_INVALID', `malformed token: ${error.message}`, { cause: error });
  }
  return error;
}
