import { createPublicKey } from 'node:crypto';
import * as jose from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  exportJwks,
  type KeySet,
  type SigningAlgorithm,
  signJwt,
  type VerifyJwtOptions,
  verifyJwt,
} from '../src/index.js';
import {
  AUDIENCE,
  expectJwtError,
  forgeToken,
  forgeWith,
  ISSUER,
  newKeySet,
  nowSeconds,
  SIGN_OPTIONS,
  TYP,
  validClaims,
  verifyOptions,
} from './helpers.js';

const ALL: readonly SigningAlgorithm[] = ['ES256', 'EdDSA', 'HS256', 'RS256'];

let es256: KeySet;
let eddsa: KeySet;
let hs256: KeySet;
let rs256: KeySet;
const ES256_ONLY = verifyOptions(['ES256']);

beforeAll(async () => {
  [es256, eddsa, hs256, rs256] = await Promise.all([
    newKeySet('ES256'),
    newKeySet('EdDSA'),
    newKeySet('HS256'),
    newKeySet('RS256'),
  ]);
});

describe('verifyJwt happy paths', () => {
  it.each(['ES256', 'EdDSA', 'HS256', 'RS256'] as const)('signs and verifies %s', async (alg) => {
    const keySet = { ES256: es256, EdDSA: eddsa, HS256: hs256, RS256: rs256 }[alg];
    const { token, claims } = await signJwt(keySet, { client_id: 'client-42', scope: 'read' }, SIGN_OPTIONS);
    const { payload, protectedHeader } = await verifyJwt(token, keySet, {
      ...verifyOptions([alg]),
      subject: 'client-42',
      requiredClaims: ['client_id', 'iat', 'jti'],
    });
    expect(protectedHeader).toEqual({ alg, kid: keySet.signingKey.kid, typ: TYP });
    expect(payload).toEqual(claims);
    expect(payload).toMatchObject({ iss: ISSUER, aud: AUDIENCE, sub: 'client-42', client_id: 'client-42' });
  });

  it('accepts a hand-forged token with valid fields (the control for the failure tests below)', async () => {
    const token = await forgeWith(es256, {}, validClaims());
    await expect(verifyJwt(token, es256, ES256_ONLY)).resolves.toMatchObject({ payload: { iss: ISSUER } });
  });

  it('accepts "application/at+jwt" and any case, as RFC 9068 §4 requires', async () => {
    for (const typ of ['application/at+jwt', 'AT+JWT']) {
      const token = await forgeWith(es256, { typ }, validClaims());
      await expect(verifyJwt(token, es256, ES256_ONLY)).resolves.toBeDefined();
    }
  });

  it('accepts a token whose aud contains one of the accepted audiences', async () => {
    const token = await forgeWith(es256, {}, validClaims({ aud: ['other', AUDIENCE] }));
    await expect(verifyJwt(token, es256, ES256_ONLY)).resolves.toBeDefined();
    const token2 = await forgeWith(es256, {}, validClaims({ aud: 'gateway' }));
    await expect(verifyJwt(token2, es256, { ...ES256_ONLY, audience: ['x', 'gateway'] })).resolves.toBeDefined();
  });

  it('honours clockToleranceSeconds and currentDate', async () => {
    const exp = nowSeconds() - 5;
    const token = await forgeWith(es256, {}, validClaims({ exp, iat: exp - 60 }));
    await expect(verifyJwt(token, es256, { ...ES256_ONLY, clockToleranceSeconds: 30 })).resolves.toBeDefined();
    const then = new Date((exp - 10) * 1000);
    await expect(verifyJwt(token, es256, { ...ES256_ONLY, currentDate: then })).resolves.toBeDefined();
    const nbf = nowSeconds() + 5;
    const early = await forgeWith(es256, {}, validClaims({ nbf }));
    await expect(verifyJwt(early, es256, { ...ES256_ONLY, clockToleranceSeconds: 30 })).resolves.toBeDefined();
  });

  it('accepts a jose JWKS resolver as the key source', async () => {
    const { token } = await signJwt(eddsa, {}, SIGN_OPTIONS);
    const resolver = jose.createLocalJWKSet(exportJwks(eddsa));
    await expect(verifyJwt(token, resolver, verifyOptions(['EdDSA']))).resolves.toBeDefined();
  });
});

describe('verifyJwt rejects the algorithm', () => {
  it('when it is not in the allow-list', async () => {
    const { token } = await signJwt(es256, {}, SIGN_OPTIONS);
    await expectJwtError(verifyJwt(token, es256, verifyOptions(['EdDSA', 'RS256'])), 'ERR_JOSE_ALG_NOT_ALLOWED');
  });

  it('"none", whatever its spelling, with or without a signature', async () => {
    for (const alg of ['none', 'None', 'NONE']) {
      const unsigned = await forgeToken({ alg, kid: es256.signingKey.kid, typ: TYP }, validClaims());
      await expectJwtError(verifyJwt(unsigned, es256, verifyOptions(ALL)), 'ERR_JOSE_ALG_NOT_ALLOWED');
      await expectJwtError(verifyJwt(`${unsigned}c2ln`, es256, verifyOptions(ALL)), 'ERR_JOSE_ALG_NOT_ALLOWED');
    }
  });

  it('when the header has no alg', async () => {
    const token = await forgeWith(es256, { alg: undefined }, validClaims());
    await expectJwtError(verifyJwt(token, es256, verifyOptions(ALL)), 'ERR_JOSE_ALG_NOT_ALLOWED');
  });

  describe('HS256 signed with the public key (key confusion)', () => {
    // The public key is public: an attacker can HMAC with its PEM or JWK bytes and name its kid.
    async function confusedTokens(keySet: KeySet) {
      const jwk = exportJwks(keySet).keys[0];
      if (jwk === undefined) throw new Error('no public key');
      const pem = createPublicKey({ key: { ...jwk }, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      const tokens = [];
      for (const secret of [Buffer.from(pem), Buffer.from(JSON.stringify(jwk))]) {
        const key = await crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
        const header = { alg: 'HS256', kid: keySet.signingKey.kid, typ: TYP };
        const token = await forgeToken(header, validClaims(), { alg: 'HS256', key });
        // Control: the forgery is a genuine HS256 token over those bytes; only the key/alg binding can stop it.
        await expect(jose.jwtVerify(token, secret, { algorithms: ['HS256'] })).resolves.toBeDefined();
        tokens.push(token);
      }
      return tokens;
    }

    it.each(['ES256', 'RS256'] as const)(
      'is refused for a %s key in a KeySet even when HS256 is allowed',
      async (alg) => {
        const keySet = alg === 'ES256' ? es256 : rs256;
        for (const token of await confusedTokens(keySet)) {
          await expectJwtError(verifyJwt(token, keySet, verifyOptions([alg, 'HS256'])), 'ERR_JOSE_ALG_NOT_ALLOWED');
          await expectJwtError(verifyJwt(token, keySet, verifyOptions([alg])), 'ERR_JOSE_ALG_NOT_ALLOWED');
        }
      },
    );

    it('is refused through a JWKS resolver', async () => {
      const resolver = jose.createLocalJWKSet(exportJwks(es256));
      for (const token of await confusedTokens(es256)) {
        await expectJwtError(verifyJwt(token, resolver, verifyOptions(['ES256', 'HS256'])), 'ERR_JOSE_ALG_NOT_ALLOWED');
      }
    });

    it('is refused when a custom resolver hands back the public key', async () => {
      const publicKey = es256.verificationKeys.get(es256.signingKey.kid)?.key;
      if (publicKey === undefined) throw new Error('no key');
      const resolver = async () => publicKey;
      for (const token of await confusedTokens(es256)) {
        await expectJwtError(verifyJwt(token, resolver, verifyOptions(['ES256', 'HS256'])), 'ERR_JOSE_ALG_NOT_ALLOWED');
      }
    });
  });

  it('when a custom resolver hands back a key that does not fit the token alg', async () => {
    const { token } = await signJwt(es256, {}, SIGN_OPTIONS);
    const publicKey = es256.verificationKeys.get(es256.signingKey.kid)?.key;
    const wrongKeys = [
      es256.signingKey.key, // the private key: never a verification key
      eddsa.verificationKeys.get(eddsa.signingKey.kid)?.key,
      rs256.verificationKeys.get(rs256.signingKey.kid)?.key,
      exportJwks(es256).keys[0], // a JWK rather than an imported key
    ];
    expect(publicKey).toBeDefined();
    await expect(verifyJwt(token, async () => publicKey as never, ES256_ONLY)).resolves.toBeDefined();
    for (const wrong of wrongKeys) {
      expect(wrong).toBeDefined();
      await expectJwtError(
        verifyJwt(token, async () => wrong as never, ES256_ONLY),
        'ERR_JOSE_ALG_NOT_ALLOWED',
      );
    }
  });

  it('when the token names an asymmetric alg but the kid of a shared secret', async () => {
    const token = await forgeToken({ alg: 'ES256', kid: hs256.signingKey.kid, typ: TYP }, validClaims(), {
      alg: 'ES256',
      key: es256.signingKey.key,
    });
    await expectJwtError(verifyJwt(token, hs256, verifyOptions(['ES256', 'HS256'])), 'ERR_JOSE_ALG_NOT_ALLOWED');
  });
});

describe('verifyJwt rejects the key id', () => {
  it.each([
    ['unknown', 'no-such-kid'],
    ['empty', ''],
    ['missing', undefined],
    ['not a string', 42],
  ])('when it is %s', async (_, kid) => {
    const token = await forgeWith(es256, { kid }, validClaims());
    await expectJwtError(verifyJwt(token, es256, ES256_ONLY), 'ERR_JWKS_NO_MATCHING_KEY');
    await expectJwtError(
      verifyJwt(token, jose.createLocalJWKSet(exportJwks(es256)), ES256_ONLY),
      'ERR_JWKS_NO_MATCHING_KEY',
    );
  });
});

describe('verifyJwt rejects the header', () => {
  it.each([
    ['an unknown extension', { crit: ['exp'], exp: 1 }],
    ['b64 (unencoded payload)', { crit: ['b64'], b64: false }],
    ['an empty list', { crit: [] }],
  ])('when crit names %s', async (_, header) => {
    const token = await forgeWith(es256, header, validClaims());
    await expectJwtError(verifyJwt(token, es256, ES256_ONLY), 'ERR_JOSE_HEADER_INVALID');
  });

  it.each([
    ['wrong', 'JWT'],
    ['a different token type', 'refresh+jwt'],
    ['missing', undefined],
  ])('when typ is %s', async (_, typ) => {
    const token = await forgeWith(es256, { typ }, validClaims());
    await expectJwtError(verifyJwt(token, es256, ES256_ONLY), 'ERR_JWT_TYPE_INVALID');
  });
});

describe('verifyJwt rejects the claims', () => {
  it.each([
    ['iss', 'wrong', { iss: 'https://evil.test' }],
    ['iss', 'an array holding the right issuer', { iss: [ISSUER] }],
    ['iss', 'missing', { iss: undefined }],
    ['aud', 'wrong', { aud: 'https://other-api.test' }],
    ['aud', 'missing', { aud: undefined }],
    ['exp', 'missing', { exp: undefined }],
    ['exp', 'a string', { exp: String(nowSeconds() + 600) }],
    ['sub', 'not a string', { sub: 42 }],
    ['jti', 'not a string', { jti: ['a'] }],
  ])('when %s is %s', async (claim, _, overrides) => {
    const token = await forgeWith(es256, {}, validClaims(overrides));
    await expectJwtError(verifyJwt(token, es256, ES256_ONLY), 'ERR_JWT_CLAIM_INVALID', claim);
  });

  it('when sub differs from the expected subject', async () => {
    const token = await forgeWith(es256, {}, validClaims({ sub: 'client-43' }));
    await expectJwtError(
      verifyJwt(token, es256, { ...ES256_ONLY, subject: 'client-42' }),
      'ERR_JWT_CLAIM_INVALID',
      'sub',
    );
  });

  it('when a required claim is missing', async () => {
    const token = await forgeWith(es256, {}, validClaims());
    const options = { ...ES256_ONLY, requiredClaims: ['client_id'] };
    await expectJwtError(verifyJwt(token, es256, options), 'ERR_JWT_CLAIM_INVALID', 'client_id');
  });

  it('when expired, including exactly at exp and beyond the tolerance', async () => {
    const now = nowSeconds();
    for (const exp of [now - 1, now - 3600]) {
      const token = await forgeWith(es256, {}, validClaims({ iat: exp - 600, exp }));
      await expectJwtError(verifyJwt(token, es256, ES256_ONLY), 'ERR_JWT_EXPIRED', 'exp');
    }
    const atExp = await forgeWith(es256, {}, validClaims({ exp: now }));
    await expectJwtError(
      verifyJwt(atExp, es256, { ...ES256_ONLY, currentDate: new Date(now * 1000) }),
      'ERR_JWT_EXPIRED',
    );
    const old = await forgeWith(es256, {}, validClaims({ exp: now - 60 }));
    await expectJwtError(verifyJwt(old, es256, { ...ES256_ONLY, clockToleranceSeconds: 30 }), 'ERR_JWT_EXPIRED');
  });

  it('when nbf is in the future', async () => {
    const token = await forgeWith(es256, {}, validClaims({ nbf: nowSeconds() + 120 }));
    await expectJwtError(verifyJwt(token, es256, ES256_ONLY), 'ERR_JWT_NOT_YET_VALID', 'nbf');
    await expectJwtError(
      verifyJwt(token, es256, { ...ES256_ONLY, clockToleranceSeconds: 60 }),
      'ERR_JWT_NOT_YET_VALID',
    );
  });
});

describe('verifyJwt rejects malformed tokens', () => {
  it.each([
    ['garbage', 'not-a-jwt'],
    ['two parts', 'eyJhbGciOiJFUzI1NiJ9.e30'],
    ['four parts', 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln.c2ln'],
    ['an empty string', ''],
    ['a header that is not base64url', '%%%.e30.c2ln'],
    ['a header that is not JSON', `${Buffer.from('{alg:').toString('base64url')}.e30.c2ln`],
    ['a header that is a JSON array', `${Buffer.from('["ES256"]').toString('base64url')}.e30.c2ln`],
  ])('%s', async (_, token) => {
    await expectJwtError(verifyJwt(token, es256, ES256_ONLY), 'ERR_JWS_INVALID');
  });

  it('a token that is not a string', async () => {
    for (const token of [undefined, null, 42, {}]) {
      await expectJwtError(verifyJwt(token as unknown as string, es256, ES256_ONLY), 'ERR_JWS_INVALID');
    }
  });

  it('a correctly signed payload that is not a JSON object', async () => {
    for (const payload of ['not json', '[1,2]']) {
      const token = await forgeWith(es256, {}, payload);
      await expectJwtError(verifyJwt(token, es256, ES256_ONLY), 'ERR_JWS_INVALID');
    }
  });
});

describe('verifyJwt rejects the signature', () => {
  it('when the payload was changed after signing', async () => {
    const { token } = await signJwt(es256, { scope: 'read' }, SIGN_OPTIONS);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const tampered = Buffer.from(JSON.stringify({ ...claims, scope: 'admin' })).toString('base64url');
    await expectJwtError(
      verifyJwt(`${header}.${tampered}.${signature}`, es256, ES256_ONLY),
      'ERR_JWS_SIGNATURE_INVALID',
    );
  });

  it.each(['ES256', 'EdDSA', 'HS256', 'RS256'] as const)(
    'when another %s key signed it under the same kid',
    async (alg) => {
      const genuine = { ES256: es256, EdDSA: eddsa, HS256: hs256, RS256: rs256 }[alg];
      const other = await newKeySet(alg);
      const token = await forgeToken({ alg, kid: genuine.signingKey.kid, typ: TYP }, validClaims(), {
        alg,
        key: other.signingKey.key,
      });
      await expectJwtError(verifyJwt(token, genuine, verifyOptions([alg])), 'ERR_JWS_SIGNATURE_INVALID');
    },
  );

  it('when the signature is empty or truncated', async () => {
    const { token } = await signJwt(es256, {}, SIGN_OPTIONS);
    const unsigned = token.slice(0, token.lastIndexOf('.') + 1);
    await expectJwtError(verifyJwt(unsigned, es256, ES256_ONLY), 'ERR_JWS_SIGNATURE_INVALID');
    await expectJwtError(verifyJwt(token.slice(0, -10), es256, ES256_ONLY), 'ERR_JWS_SIGNATURE_INVALID');
  });

  it('before looking at the claims, so a forgery learns nothing about them', async () => {
    const other = await newKeySet('ES256');
    const token = await forgeToken({ alg: 'ES256', kid: es256.signingKey.kid, typ: TYP }, validClaims({ iss: 'x' }), {
      alg: 'ES256',
      key: other.signingKey.key,
    });
    await expectJwtError(verifyJwt(token, es256, ES256_ONLY), 'ERR_JWS_SIGNATURE_INVALID');
  });
});

describe('verifyJwt requires every trust decision explicitly', () => {
  it.each([
    ['algorithms missing', { algorithms: undefined }],
    ['algorithms empty', { algorithms: [] }],
    ['algorithms containing "none"', { algorithms: ['ES256', 'none'] }],
    ['an unsupported algorithm', { algorithms: ['ES384'] }],
    ['issuer missing', { issuer: undefined }],
    ['issuer empty', { issuer: '' }],
    ['issuer as an array', { issuer: [ISSUER] }],
    ['audience missing', { audience: undefined }],
    ['audience empty', { audience: [] }],
    ['typ missing', { typ: undefined }],
    ['a negative clock tolerance', { clockToleranceSeconds: -1 }],
    ['an invalid currentDate', { currentDate: new Date('nope') }],
  ])('%s', async (_, overrides) => {
    const { token } = await signJwt(es256, {}, SIGN_OPTIONS);
    const options = { ...ES256_ONLY, ...overrides } as unknown as VerifyJwtOptions;
    await expectJwtError(verifyJwt(token, es256, options), 'ERR_ARGUMENT_INVALID');
  });

  it('refuses missing options altogether', async () => {
    const { token } = await signJwt(es256, {}, SIGN_OPTIONS);
    await expectJwtError(verifyJwt(token, es256, undefined as unknown as VerifyJwtOptions), 'ERR_ARGUMENT_INVALID');
  });
});
