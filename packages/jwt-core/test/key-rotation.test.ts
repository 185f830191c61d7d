import * as jose from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportJwks, generateSigningKey, importKeySet, type PrivateJwk, signJwt, verifyJwt } from '../src/index.js';
import { expectJwtError, SIGN_OPTIONS, verifyOptions } from './helpers.js';

let oldJwk: PrivateJwk;
let newJwk: PrivateJwk;

beforeAll(async () => {
  [oldJwk, newJwk] = await Promise.all([generateSigningKey('ES256'), generateSigningKey('ES256')]);
});

describe('key rotation', () => {
  it('keeps verifying tokens of the old key after a new signing key is added', async () => {
    const before = await importKeySet({ jwks: { keys: [oldJwk] } });
    const { token: oldToken } = await signJwt(before, {}, SIGN_OPTIONS);

    const after = await importKeySet({ jwks: { keys: [newJwk, oldJwk] } });
    expect(after.signingKey.kid).toBe(newJwk.kid);
    const { token: newToken } = await signJwt(after, {}, SIGN_OPTIONS);
    expect(jose.decodeProtectedHeader(newToken).kid).toBe(newJwk.kid);

    const options = verifyOptions(['ES256']);
    await expect(verifyJwt(oldToken, after, options)).resolves.toBeDefined();
    await expect(verifyJwt(newToken, after, options)).resolves.toBeDefined();
    // Services still on the old set do not know the new kid yet: that is why the JWKS publishes both.
    await expectJwtError(verifyJwt(newToken, before, options), 'ERR_JWKS_NO_MATCHING_KEY');
    expect(exportJwks(after).keys.map(({ kid }) => kid)).toEqual([newJwk.kid, oldJwk.kid]);
    await expect(verifyJwt(oldToken, jose.createLocalJWKSet(exportJwks(after)), options)).resolves.toBeDefined();
  });

  it('can pre-publish the next key with signingKid before switching to it', async () => {
    const staged = await importKeySet({ jwks: { keys: [oldJwk, newJwk] }, signingKid: oldJwk.kid });
    expect(staged.signingKey.kid).toBe(oldJwk.kid);
    expect(exportJwks(staged).keys.map(({ kid }) => kid)).toEqual([oldJwk.kid, newJwk.kid]);
  });

  it('stops accepting the old key once it is removed', async () => {
    const before = await importKeySet({ jwks: { keys: [oldJwk] } });
    const { token } = await signJwt(before, {}, SIGN_OPTIONS);
    const retired = await importKeySet({ jwks: { keys: [newJwk] } });
    await expectJwtError(verifyJwt(token, retired, verifyOptions(['ES256'])), 'ERR_JWKS_NO_MATCHING_KEY');
  });

  it('migrates from HS256 to ES256: old HS256 tokens verify only while HS256 is allowed', async () => {
    const secret = 'legacy-shared-secret-of-32-bytes';
    const legacy = await importKeySet({ secrets: [{ kid: 'legacy', secret }] });
    const { token } = await signJwt(legacy, {}, SIGN_OPTIONS);
    const migrated = await importKeySet({ jwks: { keys: [newJwk] }, secrets: [{ kid: 'legacy', secret }] });
    expect(migrated.signingKey.alg).toBe('ES256');
    await expect(verifyJwt(token, migrated, verifyOptions(['ES256', 'HS256']))).resolves.toBeDefined();
    await expectJwtError(verifyJwt(token, migrated, verifyOptions(['ES256'])), 'ERR_JOSE_ALG_NOT_ALLOWED');
  });
});
