import { describe, expect, it } from 'vitest';
import { decodeUnverifiedClaims, generateSigningKey, importKeySet, keySetAlgorithms, signJwt } from '../src/index.js';

describe('decodeUnverifiedClaims', () => {
  it('reads the claims of a signed token without verifying it', async () => {
    const keySet = await importKeySet({ jwks: { keys: [await generateSigningKey('ES256')] } });
    const { token } = await signJwt(
      keySet,
      { client_id: 'c1' },
      { typ: 'at+jwt', issuer: 'https://i', audience: 'api', subject: 's', expiresInSeconds: 60 },
    );
    expect(decodeUnverifiedClaims(token)).toMatchObject({ client_id: 'c1', aud: 'api', sub: 's' });
  });

  it('refuses what is not a JWT with ERR_JWS_INVALID', () => {
    const notObject = `e30.${Buffer.from('[1]').toString('base64url')}.x`;
    for (const token of ['', 'abc', 'a.!!!.c', notObject, `a.${'x'.repeat(9000)}.c`]) {
      expect(() => decodeUnverifiedClaims(token)).toThrow(expect.objectContaining({ code: 'ERR_JWS_INVALID' }));
    }
  });
});

describe('keySetAlgorithms', () => {
  it('lists each algorithm of the set once', async () => {
    const keySet = await importKeySet({
      jwks: {
        keys: [await generateSigningKey('ES256'), await generateSigningKey('ES256'), await generateSigningKey('EdDSA')],
      },
    });
    expect(keySetAlgorithms(keySet).sort()).toEqual(['ES256', 'EdDSA']);
  });
});
