import { createHash, randomBytes } from 'node:crypto';
import { decodeUnverifiedClaims, JwtCoreError, type KeySet, keySetAlgorithms, signJwt, verifyJwt } from '@mxp/jwt-core';

/** RFC 9068 `typ` of the access tokens; refresh tokens are opaque, so neither can pass for the other. */
export const ACCESS_TOKEN_TYPE = 'at+jwt';

export interface AccessTokenClaims {
  userId: string;
  sessionId: string;
  applicationId: string;
  jti: string;
  exp: number;
}

/** Signs a short-lived access token for a session: `sub` user, `aud` and `client_id` application, `sid` session. */
export async function issueSessionAccessToken(
  keySet: KeySet,
  issuer: string,
  session: { id: string; userId: string; applicationId: string; absoluteExpiresAt: Date },
  ttlSeconds: number,
  now: Date,
): Promise<{ token: string; expiresAt: Date; expiresIn: number }> {
  // Never outlive the session's absolute expiry.
  const secondsLeft = Math.floor((session.absoluteExpiresAt.getTime() - now.getTime()) / 1000);
  const lifetime = Math.max(1, Math.min(ttlSeconds, secondsLeft));
  const { token, claims } = await signJwt(
    keySet,
    { sid: session.id, client_id: session.applicationId },
    {
      typ: ACCESS_TOKEN_TYPE,
      issuer,
      audience: session.applicationId,
      subject: session.userId,
      expiresInSeconds: lifetime,
      now,
    },
  );
  return { token, expiresAt: new Date(claims.exp * 1000), expiresIn: claims.exp - claims.iat };
}

/**
 * Verifies an access token of this service (signature, issuer, type, expiry); the audience expected is the
 * application the token names, which the signature then vouches for. Throws `JwtCoreError`.
 */
export async function verifySessionAccessToken(
  keySet: KeySet,
  issuer: string,
  token: string,
  now: Date = new Date(),
): Promise<AccessTokenClaims> {
  const audience = unverifiedAudience(token);
  if (audience === undefined) throw new JwtCoreError('ERR_JWS_INVALID', 'token is malformed');
  const { payload } = await verifyJwt(token, keySet, {
    algorithms: keySetAlgorithms(keySet),
    issuer,
    audience,
    typ: ACCESS_TOKEN_TYPE,
    currentDate: now,
    requiredClaims: ['sub', 'sid', 'jti'],
  });
  if (typeof payload.sid !== 'string' || typeof payload.sub !== 'string' || typeof payload.jti !== 'string') {
    throw new JwtCoreError('ERR_JWT_CLAIM_INVALID', 'sid, sub and jti must be strings');
  }
  return { userId: payload.sub, sessionId: payload.sid, applicationId: audience, jti: payload.jti, exp: payload.exp };
}

function unverifiedAudience(token: string): string | undefined {
  try {
    const aud = decodeUnverifiedClaims(token).aud;
    return typeof aud === 'string' && aud.length > 0 && aud.length <= 200 ? aud : undefined;
  } catch {
    return undefined;
  }
}

/** A new opaque refresh token: 256 random bits. */
export function generateRefreshToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What is stored of a refresh token: its SHA-256 (the token has 256 random bits, so no slow hash is needed). */
export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}
