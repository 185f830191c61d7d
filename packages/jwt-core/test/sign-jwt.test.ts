import * as jose from 'jose';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { exportJwks, type KeySet, type SignJwtOptions, signJwt, verifyJwt } from '../src/index.js';
import { expectJwtError, newKeySet, SIGN_OPTIONS, TYP, verifyOptions } from './helpers.js';

let es256: KeySet;
let hs256: KeySet;

beforeAll(async () => {
  [es256, hs256] = await Promise.all([newKeySet('ES256'), newKeySet('HS256')]);
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('signJwt', () => {
  it('returns the full signed claims and puts alg, kid and typ in the header', async () => {
    const now = new Date('2030-01-02T03:04:05.678Z');
    const { token, claims } = await signJwt(es256, { client_id: 'c-1' }, { ...SIGN_OPTIONS, now, jti: 'fixed' });
    const iat = Math.floor(now.getTime() / 1000);
    expect(claims).toEqual({
      iss: SIGN_OPTIONS.issuer,
      sub: SIGN_OPTIONS.subject,
      aud: SIGN_OPTIONS.audience,
      iat,
      exp: iat + SIGN_OPTIONS.expiresInSeconds,
      jti: 'fixed',
      client_id: 'c-1',
    });
    expect(jose.decodeJwt(token)).toEqual(claims);
    expect(jose.decodeProtectedHeader(token)).toEqual({ alg: 'ES256', kid: es256.signingKey.kid, typ: TYP });
  });

  it('defaults iat to now and jti to a fresh random value', async () => {
    const before = Math.floor(Date.now() / 1000);
    const first = await signJwt(es256, {}, SIGN_OPTIONS);
    const second = await signJwt(es256, {}, SIGN_OPTIONS);
    expect(first.claims.iat).toBeGreaterThanOrEqual(before);
    expect(first.claims.iat).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    expect(first.claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(second.claims.jti).not.toBe(first.claims.jti);
  });

  it.each(['ES256', 'EdDSA', 'RS256'] as const)(
    'makes %s tokens that plain jose verifies with the published key',
    async (alg) => {
      const keySet = await newKeySet(alg);
      const { token, claims } = await signJwt(keySet, { client_id: 'c' }, SIGN_OPTIONS);
      const { payload, protectedHeader } = await jose.jwtVerify(token, jose.createLocalJWKSet(exportJwks(keySet)), {
        algorithms: [alg],
        issuer: SIGN_OPTIONS.issuer,
        audience: SIGN_OPTIONS.audience,
        typ: TYP,
      });
      expect(payload).toEqual(claims);
      expect(protectedHeader).toEqual({ alg, kid: keySet.signingKey.kid, typ: TYP });
    },
  );

  it('signs an audience list', async () => {
    const { token, claims } = await signJwt(es256, {}, { ...SIGN_OPTIONS, audience: ['a', 'b'] });
    expect(claims.aud).toEqual(['a', 'b']);
    await expect(verifyJwt(token, es256, { ...verifyOptions(['ES256']), audience: 'b' })).resolves.toBeDefined();
  });

  it('imports no key per call: signing and verifying reuse the key set keys', async () => {
    const importKey = vi.spyOn(crypto.subtle, 'importKey');
    for (const keySet of [es256, hs256]) {
      for (let i = 0; i < 10; i++) {
        const { token } = await signJwt(keySet, {}, SIGN_OPTIONS);
        await verifyJwt(token, keySet, verifyOptions([keySet.signingKey.alg]));
      }
    }
    expect(importKey).not.toHaveBeenCalled();
    // Control: the spy does see imports, so the assertion above can fail.
    await newKeySet('ES256');
    expect(importKey).toHaveBeenCalled();
  });

  it.each(['iss', 'sub', 'aud', 'iat', 'exp', 'jti'])('refuses "%s" in claims, since options set it', async (claim) => {
    await expectJwtError(signJwt(es256, { [claim]: 'x' }, SIGN_OPTIONS), 'ERR_ARGUMENT_INVALID');
  });

  it.each([
    ['typ empty', { typ: '' }],
    ['issuer missing', { issuer: undefined }],
    ['subject missing', { subject: undefined }],
    ['audience empty', { audience: [] }],
    ['expiresInSeconds zero', { expiresInSeconds: 0 }],
    ['expiresInSeconds negative', { expiresInSeconds: -60 }],
    ['expiresInSeconds fractional', { expiresInSeconds: 1.5 }],
    ['expiresInSeconds NaN', { expiresInSeconds: Number.NaN }],
    ['jti empty', { jti: '' }],
    ['now invalid', { now: new Date('invalid') }],
  ])('refuses %s', async (_, overrides) => {
    const options = { ...SIGN_OPTIONS, ...overrides } as unknown as SignJwtOptions;
    await expectJwtError(signJwt(es256, {}, options), 'ERR_ARGUMENT_INVALID');
  });

  it('refuses claims that are not a JSON-serialisable object', async () => {
    await expectJwtError(signJwt(es256, { big: 1n }, SIGN_OPTIONS), 'ERR_ARGUMENT_INVALID');
    await expectJwtError(
      signJwt(es256, null as unknown as Record<string, unknown>, SIGN_OPTIONS),
      'ERR_ARGUMENT_INVALID',
    );
  });
});
