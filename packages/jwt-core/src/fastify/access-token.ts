import { JwtCoreError } from '../errors.js';
import type { VerifiedClaims } from '../verify-jwt.js';

/** A verified RFC 9068 access token, as a route handler reads it from `request.accessToken`. */
export interface AccessToken {
  /** `client_id`: the OAuth client the token was issued to. */
  readonly clientId: string;
  /** `sub`: for client-credential tokens the client id too, for user tokens the user. */
  readonly subject: string;
  /** `scope`, split on spaces (empty when the token has no `scope` claim). */
  readonly scopes: readonly string[];
  /** `aud`, always as a list. */
  readonly audience: readonly string[];
  readonly issuer: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  /** `jti`, e.g. for audit logs or a replay/deny list. */
  readonly jti: string;
  /** Every claim of the token, for claims this summary does not cover. */
  readonly claims: Readonly<VerifiedClaims>;
}

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), joined by single spaces.
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Whether `value` is one RFC 6749 scope token (which also makes it safe inside a quoted `WWW-Authenticate` value). */
export function isScopeToken(value: unknown): value is string {
  return typeof value === 'string' && SCOPE_TOKEN.test(value);
}

function claimError(claim: string, message: string): JwtCoreError {
  return new JwtCoreError('ERR_JWT_CLAIM_INVALID', message, { claim });
}

/**
 * Summarises the claims `verifyJwt` accepted (it already required `sub`, `client_id`, `iat` and `jti` and typed the
 * registered ones); the RFC 9068 claims it does not type are checked here.
 */
export function toAccessToken(claims: VerifiedClaims): AccessToken {
  const { client_id: clientId, scope, sub, iat, jti } = claims;
  if (typeof clientId !== 'string' || clientId === '') {
    throw claimError('client_id', '"client_id" must be a non-empty string');
  }
  if (scope !== undefined && typeof scope !== 'string') throw claimError('scope', '"scope" must be a string');
  if (typeof sub !== 'string' || typeof iat !== 'number' || typeof jti !== 'string') {
    // Unreachable after verifyJwt with the plugin's requiredClaims; kept so a change there cannot go unnoticed.
    throw claimError('sub', '"sub", "iat" and "jti" are required');
  }
  return {
    clientId,
    subject: sub,
    scopes: scope === undefined ? [] : scope.split(' ').filter((token) => token !== ''),
    audience: typeof claims.aud === 'string' ? [claims.aud] : [...claims.aud],
    issuer: claims.iss,
    issuedAt: new Date(iat * 1000),
    expiresAt: new Date(claims.exp * 1000),
    jti,
    claims,
  };
}
