import { expect } from 'vitest';
import {
  type CryptoKey,
  generateSigningKey,
  importKeySet,
  JwtCoreError,
  type JwtCoreErrorCode,
  type KeySet,
  type SigningAlgorithm,
} from '../src/index.js';

export const ISSUER = 'https://auth.maxpoint.test';
export const AUDIENCE = 'https://api.maxpoint.test';
export const TYP = 'at+jwt';

export const SIGN_OPTIONS = {
  typ: TYP,
  issuer: ISSUER,
  audience: AUDIENCE,
  subject: 'client-42',
  expiresInSeconds: 600,
};

export function verifyOptions(algorithms: readonly SigningAlgorithm[]) {
  return { algorithms, issuer: ISSUER, audience: AUDIENCE, typ: TYP };
}

export async function newKeySet(alg: SigningAlgorithm): Promise<KeySet> {
  return importKeySet({ jwks: { keys: [await generateSigningKey(alg)] } });
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A payload that passes every check of `verifyOptions`, to be broken one claim at a time. */
export function validClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = nowSeconds();
  return { iss: ISSUER, aud: AUDIENCE, sub: 'client-42', iat: now, exp: now + 600, jti: 'j-1', ...overrides };
}

const SIGN_PARAMS: Record<SigningAlgorithm, Parameters<typeof crypto.subtle.sign>[0]> = {
  ES256: { name: 'ECDSA', hash: 'SHA-256' },
  EdDSA: { name: 'Ed25519' },
  HS256: { name: 'HMAC' },
  RS256: { name: 'RSASSA-PKCS1-v1_5' },
};

const b64u = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');

/**
 * Builds a compact JWS by hand, bypassing both signJwt and jose's producers (which refuse some of the malicious
 * headers tested here). A string payload is used verbatim (to test non-JSON payloads).
 */
export async function forgeToken(
  header: Record<string, unknown>,
  payload: unknown,
  signer?: { alg: SigningAlgorithm; key: CryptoKey },
): Promise<string> {
  const signingInput = `${b64u(JSON.stringify(header))}.${b64u(typeof payload === 'string' ? payload : JSON.stringify(payload))}`;
  if (signer === undefined) return `${signingInput}.`;
  const signature = await crypto.subtle.sign(
    SIGN_PARAMS[signer.alg],
    signer.key,
    new TextEncoder().encode(signingInput),
  );
  return `${signingInput}.${b64u(new Uint8Array(signature))}`;
}

/** Signs like the key set's signing key would, but with any header and payload. */
export function forgeWith(keySet: KeySet, header: Record<string, unknown>, payload: unknown): Promise<string> {
  const { alg, kid, key } = keySet.signingKey;
  return forgeToken({ alg, kid, typ: TYP, ...header }, payload, { alg, key });
}

/** Awaits a promise that must reject, and returns its JwtCoreError after checking the code (and claim). */
export async function expectJwtError(
  promise: Promise<unknown>,
  code: JwtCoreErrorCode,
  claim?: string,
): Promise<JwtCoreError> {
  const outcome = await promise.then(
    (value) => ({ resolved: true as const, value }),
    (error: unknown) => ({ resolved: false as const, error }),
  );
  if (outcome.resolved) throw new Error(`expected ${code}, but it resolved with ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(JwtCoreError);
  const error = outcome.error as JwtCoreError;
  expect({ code: error.code, message: error.message }).toMatchObject({ code });
  if (claim !== undefined) expect(error.claim).toBe(claim);
  return error;
}
