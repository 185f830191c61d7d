import { type FlattenedJWSInput, type JWSHeaderParameters, jwtVerify } from 'jose';
import type { SigningAlgorithm } from './algorithms.js';
import { JwtCoreError } from './errors.js';
import { checkVerifyOptions, nonEmptyString } from './lib/check-verify-options.js';
import { decodeCompactHeader } from './lib/decode-header.js';
import { mapJoseError } from './lib/map-jose-error.js';
import { keyFitsAlgorithm } from './lib/web-crypto-params.js';
import type { CryptoKey, KeySet } from './types.js';

/**
 * Resolves the verification key from the token header, as `jose`'s `createRemoteJWKSet` / `createLocalJWKSet`
 * (and this package's `createRemoteKeySet`) do.
 */
export type JwksResolver = (protectedHeader: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>;

/** Everything a verifier must decide; there is deliberately no default for what to trust. */
export interface VerifyJwtOptions {
  /** Explicit allow-list; `none` is never accepted. */
  algorithms: readonly SigningAlgorithm[];
  /** The only accepted `iss` (a string claim; an array `iss` is rejected). */
  issuer: string;
  /** Accepted audience(s): the token's `aud` must contain at least one. */
  audience: string | readonly string[];
  /** Expected `typ` header, e.g. `at+jwt` (`application/at+jwt` matches too, case-insensitively). */
  typ: string;
  /** When set, `sub` must equal it. */
  subject?: string;
  /** Allowed clock skew for `exp` and `nbf`, in seconds; defaults to 0. */
  clockToleranceSeconds?: number;
  /** The time to verify at; defaults to now. */
  currentDate?: Date;
  /** Claims that must be present, in addition to `exp`, `iss` and `aud` (always required). */
  requiredClaims?: readonly string[];
}

/** The header of a verified token. */
export interface VerifiedHeader {
  alg: SigningAlgorithm;
  kid: string;
  typ: string;
  [parameter: string]: unknown;
}

/** The claims of a verified token: the registered ones are type-checked, custom ones are the caller's to check. */
export interface VerifiedClaims {
  iss: string;
  aud: string | string[];
  exp: number;
  sub?: string;
  iat?: number;
  nbf?: number;
  jti?: string;
  [claim: string]: unknown;
}

/** A verified token. */
export interface VerifiedJwt {
  payload: VerifiedClaims;
  protectedHeader: VerifiedHeader;
}

async function resolveKey(
  source: KeySet | JwksResolver,
  header: Record<string, unknown>,
  alg: SigningAlgorithm,
  kid: string,
  token: string,
): Promise<CryptoKey> {
  if (typeof source !== 'function') {
    const entry = source.verificationKeys.get(kid);
    if (entry === undefined) throw new JwtCoreError('ERR_JWKS_NO_MATCHING_KEY', `no key with kid "${kid}"`);
    // The key decides the algorithm, never the header: this is what stops HS256-with-the-public-key forgeries.
    if (entry.alg !== alg) {
      throw new JwtCoreError('ERR_JOSE_ALG_NOT_ALLOWED', `key "${kid}" is for ${entry.alg}, the token says ${alg}`);
    }
    return entry.key;
  }
  const [protectedPart = '', payload = '', signature = ''] = token.split('.');
  let key: unknown;
  try {
    key = await source(header as JWSHeaderParameters, { protected: protectedPart, payload, signature });
  } catch (error) {
    const mapped = mapJoseError(error);
    // Whatever else stopped the resolver (network, timeout, a broken JWKS) says nothing about the token.
    throw mapped instanceof JwtCoreError
      ? mapped
      : new JwtCoreError('ERR_JWKS_UNAVAILABLE', 'the key resolver failed', { cause: error });
  }
  if (!keyFitsAlgorithm(key, alg)) {
    throw new JwtCoreError('ERR_JOSE_ALG_NOT_ALLOWED', `the key resolved for kid "${kid}" is not a ${alg} key`);
  }
  return key;
}

/**
 * Verifies a compact JWT against a {@link KeySet} or a JWKS resolver and returns its header and claims. Every
 * failed check throws a {@link JwtCoreError}; it never returns a falsy result.
 */
export async function verifyJwt(
  token: string,
  keySource: KeySet | JwksResolver,
  options: VerifyJwtOptions,
): Promise<VerifiedJwt> {
  checkVerifyOptions(options);
  const header = decodeCompactHeader(token);
  // No extension is understood here, and RFC 7515 §4.1.11 requires rejecting a token naming one it does not know.
  if (Object.hasOwn(header, 'crit')) {
    throw new JwtCoreError('ERR_JOSE_HEADER_INVALID', 'the "crit" header parameter is not supported');
  }
  const { alg, kid } = header;
  if (typeof alg !== 'string' || !options.algorithms.includes(alg as SigningAlgorithm)) {
    throw new JwtCoreError('ERR_JOSE_ALG_NOT_ALLOWED', `algorithm "${String(alg)}" is not allowed`);
  }
  // A token without kid would leave the choice of key to guesswork; every token this platform issues has one.
  if (!nonEmptyString(kid)) throw new JwtCoreError('ERR_JWKS_NO_MATCHING_KEY', 'the token has no "kid"');
  const key = await resolveKey(keySource, header, alg as SigningAlgorithm, kid, token);

  let result: Awaited<ReturnType<typeof jwtVerify>>;
  try {
    result = await jwtVerify(token, key, {
      algorithms: [alg],
      issuer: options.issuer,
      audience: typeof options.audience === 'string' ? options.audience : [...options.audience],
      typ: options.typ,
      subject: options.subject,
      clockTolerance: options.clockToleranceSeconds ?? 0,
      currentDate: options.currentDate,
      requiredClaims: ['exp', ...(options.requiredClaims ?? [])],
    });
  } catch (error) {
    throw mapJoseError(error);
  }
  const payload = result.payload as Record<string, unknown>;
  // jose compares iss/sub by value only; a non-string here is malformed even when it happens not to match.
  for (const claim of ['iss', 'sub', 'jti'] as const) {
    if (payload[claim] !== undefined && typeof payload[claim] !== 'string') {
      throw new JwtCoreError('ERR_JWT_CLAIM_INVALID', `"${claim}" claim must be a string`, { claim });
    }
  }
  return {
    payload: payload as VerifiedClaims,
    protectedHeader: result.protectedHeader as VerifiedHeader,
  };
}
