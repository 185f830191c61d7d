import * as jose from 'jose';
import { describe, expect, it } from 'vitest';
import {
  exportJwks,
  generateSigningKey,
  importKeySet,
  type KeySet,
  type SigningAlgorithm,
  signJwt,
} from '../src/index.js';
import { AUDIENCE, ISSUER, SIGN_OPTIONS, TYP } from './helpers.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'];

describe('exportJwks', () => {
  it('publishes public members only, with kid, alg and use, the signing key first', async () => {
    const jwks = [
      await generateSigningKey('ES256'),
      await generateSigningKey('EdDSA'),
      await generateSigningKey('RS256'),
      await generateSigningKey('HS256'),
    ];
    const keySet = await importKeySet({ jwks: { keys: jwks }, signingKid: jwks[1]?.kid });
    const exported = exportJwks(keySet);
    expect(exported.keys.map(({ kid }) => kid)).toEqual([jwks[1]?.kid, jwks[0]?.kid, jwks[2]?.kid]);
    const allowed = { EC: ['crv', 'x', 'y'], OKP: ['crv', 'x'], RSA: ['n', 'e'] };
    for (const jwk of exported.keys) {
      expect(Object.keys(jwk).sort()).toEqual(['kty', 'kid', 'alg', 'use', ...allowed[jwk.kty]].sort());
      expect(jwk.use).toBe('sig');
      for (const member of PRIVATE_MEMBERS) expect(jwk).not.toHaveProperty(member);
    }
    const text = JSON.stringify(exported);
    for (const source of jwks) {
      for (const member of PRIVATE_MEMBERS) {
        const value = (source as unknown as Record<string, unknown>)[member];
        if (typeof value === 'string') expect(text).not.toContain(value);
      }
    }
  });

  it('never publishes an HS256 secret, not even its kid', async () => {
    const hs = await generateSigningKey('HS256');
    const keySet = await importKeySet({ jwks: { keys: [hs] } });
    expect(exportJwks(keySet)).toEqual({ keys: [] });
  });

  it('strips private members even from a hand-made KeySet', async () => {
    const genuine = await importKeySet({ jwks: { keys: [await generateSigningKey('ES256')] } });
    const [entry] = genuine.verificationKeys.values();
    if (entry?.publicJwk === undefined) throw new Error('no public key');
    const leaky = { ...entry, publicJwk: { ...entry.publicJwk, d: 'SECRET' } };
    const keySet: KeySet = { signingKey: genuine.signingKey, verificationKeys: new Map([[entry.kid, leaky]]) };
    expect(JSON.stringify(exportJwks(keySet))).not.toContain('SECRET');
  });

  it.each(['ES256', 'EdDSA', 'RS256'] as const)(
    'lets plain jose.jwtVerify verify a %s token against the exported JWKS (independent check)',
    async (alg: SigningAlgorithm) => {
      const keySet = await importKeySet({ jwks: { keys: [await generateSigningKey(alg)] } });
      const { token, claims } = await signJwt(keySet, { client_id: 'c' }, SIGN_OPTIONS);
      const jwks = JSON.parse(JSON.stringify(exportJwks(keySet)));
      const { payload, protectedHeader } = await jose.jwtVerify(token, jose.createLocalJWKSet(jwks), {
        algorithms: [alg],
        issuer: ISSUER,
        audience: AUDIENCE,
        typ: TYP,
      });
      expect(payload).toEqual(claims);
      expect(protectedHeader).toEqual({ alg, kid: keySet.signingKey.kid, typ: TYP });
    },
  );
});
