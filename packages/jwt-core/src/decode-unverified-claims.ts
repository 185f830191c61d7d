import { JwtCoreError } from './errors.js';

/** Longest compact token worth parsing; anything longer is refused before any work. */
const MAX_TOKEN_LENGTH = 8192;

/**
 * The claims of a compact JWT WITHOUT verifying it: only to choose what to verify against (e.g. the audience a
 * service's own token names), never to trust. Throws `ERR_JWS_INVALID` when the token is not a JWT.
 */
export function decodeUnverifiedClaims(token: string): Record<string, unknown> {
  const payload = token.length <= MAX_TOKEN_LENGTH ? token.split('.')[1] : undefined;
  if (!payload) throw new JwtCoreError('ERR_JWS_INVALID', 'malformed token: no payload');
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw new JwtCoreError('ERR_JWS_INVALID', 'malformed token: the payload is not JSON');
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
    throw new JwtCoreError('ERR_JWS_INVALID', 'malformed token: the payload is not a JSON object');
  }
  return claims as Record<string, unknown>;
}
