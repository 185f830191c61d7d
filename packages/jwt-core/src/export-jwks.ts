import type { JwkSet, KeySet, PublicJwk } from './types.js';

const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e', 'kid', 'alg'] as const;

// Rebuilds each JWK from an allow-list of public members, so a hand-made KeySet carrying private members in
// `publicJwk` still cannot leak them.
function publicOnly(jwk: PublicJwk): PublicJwk {
  const out: Record<string, string> = {};
  for (const member of PUBLIC_MEMBERS) {
    const value = jwk[member];
    if (typeof value === 'string') out[member] = value;
  }
  return { ...(out as unknown as PublicJwk), use: 'sig' };
}

/**
 * The public JWK Set to serve (e.g. at `/.well-known/jwks.json`): every asymmetric key of the set, the signing one
 * first, each with `kid`, `alg` and `use`. HS256 secrets are never included.
 */
export function exportJwks(keySet: KeySet): JwkSet<PublicJwk> {
  const signingKid = keySet.signingKey.kid;
  const ordered = [...keySet.verificationKeys.values()].sort(
    (a, b) => Number(b.kid === signingKid) - Number(a.kid === signingKid),
  );
  const keys: PublicJwk[] = [];
  for (const { alg, publicJwk } of ordered) {
    if (alg !== 'HS256' && publicJwk !== undefined) keys.push(publicOnly(publicJwk));
  }
  return { keys };
}
