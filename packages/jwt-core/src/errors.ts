/**
 * Every failure this package reports. The codes are stable: callers switch on `code`, never on `message`
 * (messages are for logs and may be reworded).
 */
export type JwtCoreErrorCode =
  /** `exp` is at or before the current time (minus the clock tolerance). */
  | 'ERR_JWT_EXPIRED'
  /** `nbf` is after the current time (plus the clock tolerance). */
  | 'ERR_JWT_NOT_YET_VALID'
  /** A claim is missing, has the wrong type or the wrong value; `claim` names it. */
  | 'ERR_JWT_CLAIM_INVALID'
  /** The `typ` header is missing or is not the expected token type. */
  | 'ERR_JWT_TYPE_INVALID'
  /** The token is not a well-formed compact JWS carrying a JSON claims set. */
  | 'ERR_JWS_INVALID'
  /** The signature does not match the key selected by `kid`. */
  | 'ERR_JWS_SIGNATURE_INVALID'
  /** The `alg` header is not in the allow-list, or is not the algorithm of the key selected by `kid`. */
  | 'ERR_JOSE_ALG_NOT_ALLOWED'
  /** A header parameter this package refuses, such as `crit`. */
  | 'ERR_JOSE_HEADER_INVALID'
  /** `kid` is missing, empty or names no known key. */
  | 'ERR_JWKS_NO_MATCHING_KEY'
  /** A remote JWKS could not be fetched or is not a usable key set (retryable; not the token's fault). */
  | 'ERR_JWKS_UNAVAILABLE'
  /** Key configuration is unusable; the message names the problem and never contains key material. */
  | 'ERR_KEY_CONFIG_INVALID'
  /** A caller passed an invalid option or argument (a programming error, not a bad token). */
  | 'ERR_ARGUMENT_INVALID';

/** The single error class thrown by this package; `code` tells callers what failed. */
export class JwtCoreError extends Error {
  override readonly name = 'JwtCoreError';
  readonly code: JwtCoreErrorCode;
  /** The claim that failed, for `ERR_JWT_CLAIM_INVALID`, `ERR_JWT_EXPIRED` and `ERR_JWT_NOT_YET_VALID`. */
  readonly claim: string | undefined;

  /** Creates an error with a stable `code`; `claim` names the offending claim when there is one. */
  constructor(code: JwtCoreErrorCode, message: string, options?: { claim?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.claim = options?.claim;
  }
}
