import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import * as jose from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  generateSigningKey,
  importKeySet,
  type KeySetConfig,
  type PrivateJwk,
  signJwt,
  verifyJwt,
} from '../src/index.js';
import { expectJwtError, SIGN_OPTIONS, verifyOptions } from './helpers.js';

const pkcs8 = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }) as string;
const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }) as string;

let es256Jwk: PrivateJwk;
let eddsaJwk: PrivateJwk;
let hs256Jwk: PrivateJwk;

beforeAll(async () => {
  [es256Jwk, eddsaJwk, hs256Jwk] = await Promise.all([
    generateSigningKey('ES256'),
    generateSigningKey('EdDSA'),
    generateSigningKey('HS256'),
  ]);
});

function publicOf(jwk: PrivateJwk): PrivateJwk {
  const { d: _d, ...rest } = jwk;
  return rest;
}

async function roundTrip(config: KeySetConfig) {
  const keySet = await importKeySet(config);
  const { token } = await signJwt(keySet, {}, SIGN_OPTIONS);
  await verifyJwt(token, keySet, verifyOptions([keySet.signingKey.alg]));
  return keySet;
}

describe('importKeySet from a JWK Set', () => {
  it('takes an object or its JSON text; the first key signs', async () => {
    for (const jwks of [{ keys: [es256Jwk, eddsaJwk] }, JSON.stringify({ keys: [es256Jwk, eddsaJwk] })]) {
      const keySet = await roundTrip({ jwks });
      expect(keySet.signingKey).toMatchObject({ kid: es256Jwk.kid, alg: 'ES256' });
      expect([...keySet.verificationKeys.keys()]).toEqual([es256Jwk.kid, eddsaJwk.kid]);
    }
  });

  it('signs with signingKid when given', async () => {
    const keySet = await roundTrip({ jwks: { keys: [es256Jwk, eddsaJwk] }, signingKid: eddsaJwk.kid });
    expect(keySet.signingKey).toMatchObject({ kid: eddsaJwk.kid, alg: 'EdDSA' });
  });

  it('defaults a missing kid to the RFC 7638 thumbprint', async () => {
    const { kid: _kid, ...withoutKid } = es256Jwk;
    const keySet = await importKeySet({ jwks: { keys: [withoutKid] } });
    expect(keySet.signingKey.kid).toBe(await jose.calculateJwkThumbprint(withoutKid as jose.JWK));
  });

  it('imports an oct key as HS256, and public keys as verify-only', async () => {
    const keySet = await roundTrip({ jwks: { keys: [hs256Jwk, publicOf(es256Jwk)] } });
    expect(keySet.signingKey.alg).toBe('HS256');
    expect(keySet.verificationKeys.get(es256Jwk.kid)?.key.type).toBe('public');
  });

  it('keeps private keys and secrets non-extractable', async () => {
    const keySet = await importKeySet({ jwks: { keys: [es256Jwk] } });
    expect(keySet.signingKey.key).toMatchObject({ type: 'private', extractable: false });
    await expect(crypto.subtle.exportKey('jwk', keySet.signingKey.key)).rejects.toThrow();
    const hmac = await importKeySet({ jwks: { keys: [hs256Jwk] } });
    expect(hmac.signingKey.key).toMatchObject({ type: 'secret', extractable: false });
    await expect(crypto.subtle.exportKey('raw', hmac.signingKey.key)).rejects.toThrow();
  });
});

describe('importKeySet from PEM and secrets', () => {
  it.each([
    ['ES256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' })],
    ['EdDSA', () => generateKeyPairSync('ed25519')],
    ['RS256', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
  ] as const)('signs with a PKCS8 %s key and verifies with its SPKI key', async (alg, generate) => {
    const { privateKey, publicKey } = generate();
    const signer = await roundTrip({ pem: [{ pem: pkcs8(privateKey), alg, kid: 'pem-1' }] });
    const { token } = await signJwt(signer, {}, SIGN_OPTIONS);
    // A service holding only the public PEM verifies; it signs with its own (here HS256) key.
    const verifier = await importKeySet({
      secrets: [{ kid: 'local', secret: 'x'.repeat(32) }],
      pem: [{ pem: spki(publicKey), alg, kid: 'pem-1' }],
      signingKid: 'local',
    });
    await expect(verifyJwt(token, verifier, verifyOptions([alg]))).resolves.toBeDefined();
  });

  it('takes an HS256 secret as a string (UTF-8) or bytes', async () => {
    const secret = 'a-shared-secret-of-32-characters';
    const keySet = await roundTrip({ secrets: [{ kid: 'hs', secret }] });
    const { token } = await signJwt(keySet, {}, SIGN_OPTIONS);
    // Independent check: plain jose with the same secret bytes.
    await expect(jose.jwtVerify(token, new TextEncoder().encode(secret))).resolves.toBeDefined();
    await roundTrip({ secrets: [{ kid: 'hs', secret: new Uint8Array(32).fill(7) }] });
  });
});

describe('importKeySet refuses bad configuration with ERR_KEY_CONFIG_INVALID', () => {
  const privateMaterial = () => [es256Jwk.d, hs256Jwk.k].filter((value): value is string => value !== undefined);

  async function expectConfigError(config: KeySetConfig, messagePart?: RegExp) {
    const error = await expectJwtError(importKeySet(config), 'ERR_KEY_CONFIG_INVALID');
    for (const secret of privateMaterial()) expect(error.message).not.toContain(secret);
    if (messagePart) expect(error.message).toMatch(messagePart);
    return error;
  }

  it('for JSON that does not parse, without echoing the text', async () => {
    const broken = JSON.stringify({ keys: [es256Jwk, hs256Jwk] }).slice(0, -3);
    const error = await expectConfigError({ jwks: broken }, /not valid JSON/);
    expect(String(error.cause ?? '')).toBe('');
  });

  it.each([
    ['an empty configuration', {}, /no keys/],
    ['an empty JWK Set', { jwks: { keys: [] } }, /no keys/],
    ['something that is not a JWK Set', { jwks: '[1]' }, /JWK Set/],
  ])('for %s', async (_, config, message) => {
    await expectConfigError(config as KeySetConfig, message);
  });

  it.each([
    ['no alg', (jwk: PrivateJwk) => ({ ...jwk, alg: undefined }), /"alg" must be one of/],
    ['an unsupported alg', (jwk: PrivateJwk) => ({ ...jwk, alg: 'ES384' }), /"alg" must be one of/],
    ['alg EdDSA on an EC key', (jwk: PrivateJwk) => ({ ...jwk, alg: 'EdDSA' }), /needs an Ed25519 key, got an EC/],
    ['alg HS256 on an EC key', (jwk: PrivateJwk) => ({ ...jwk, alg: 'HS256' }), /oct/],
    ['use "enc"', (jwk: PrivateJwk) => ({ ...jwk, use: 'enc' }), /"use"/],
    ['an empty kid', (jwk: PrivateJwk) => ({ ...jwk, kid: '' }), /"kid"/],
    ['a point that is not on the curve', (jwk: PrivateJwk) => ({ ...jwk, x: jwk.y }), /not a valid EC JWK/],
  ])('for a JWK with %s', async (_, mutate, message) => {
    await expectConfigError({ jwks: { keys: [mutate(es256Jwk)] } }, message);
  });

  it('for an EC key on another curve', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    await expectConfigError(
      { pem: [{ pem: pkcs8(privateKey), alg: 'ES256' }] },
      /needs an EC P-256 key, got an EC secp384r1/,
    );
  });

  it('for an RSA key under 2048 bits', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    await expectConfigError({ pem: [{ pem: pkcs8(privateKey), alg: 'RS256' }] }, /2048/);
  });

  it('for HS256 secrets shorter than 32 bytes, as a string, bytes or an oct JWK', async () => {
    await expectConfigError({ secrets: [{ kid: 'hs', secret: 'x'.repeat(31) }] }, /at least 32 bytes, got 31/);
    await expectConfigError({ secrets: [{ kid: 'hs', secret: new Uint8Array(16) }] }, /got 16/);
    const short = { ...hs256Jwk, k: Buffer.alloc(20).toString('base64url') };
    await expectConfigError({ jwks: { keys: [short] } }, /got 20/);
  });

  it('for a secret or an oct JWK without kid', async () => {
    await expectConfigError({ secrets: [{ kid: '', secret: 'x'.repeat(32) }] }, /"kid"/);
    const { kid: _kid, ...withoutKid } = hs256Jwk;
    await expectConfigError({ jwks: { keys: [withoutKid] } }, /"kid"/);
  });

  it('for PEM that is not one PKCS8 or SPKI block', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const sec1 = privateKey.export({ type: 'sec1', format: 'pem' }) as string;
    const error = await expectConfigError({ pem: [{ pem: sec1, alg: 'ES256' }] }, /BEGIN EC PRIVATE KEY/);
    expect(error.message).not.toContain(sec1.split('\n')[1]);
    await expectConfigError({ pem: [{ pem: 'hello', alg: 'ES256' }] }, /exactly one PEM block/);
    await expectConfigError({ pem: [{ pem: pkcs8(privateKey) + pkcs8(privateKey), alg: 'ES256' }] }, /found 2/);
    const garbled = '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n';
    await expectConfigError({ pem: [{ pem: garbled, alg: 'ES256' }] }, /could not be parsed/);
    const asHs256 = { pem: pkcs8(privateKey), alg: 'HS256' } as unknown as KeySetConfig['pem'] & object;
    await expectConfigError({ pem: [asHs256] as never }, /HS256 takes a secret/);
  });

  it('for duplicate kids', async () => {
    await expectConfigError({ jwks: { keys: [es256Jwk, { ...eddsaJwk, kid: es256Jwk.kid }] } }, /duplicate kid/);
  });

  it('for a signing key that is unknown or public only', async () => {
    await expectConfigError({ jwks: { keys: [es256Jwk] }, signingKid: 'nope' }, /names no configured key/);
    const keys = [es256Jwk, publicOf(eddsaJwk)];
    await expectConfigError({ jwks: { keys }, signingKid: eddsaJwk.kid }, /public only/);
    await expectConfigError({ jwks: { keys: [publicOf(es256Jwk), eddsaJwk] } }, /first key signs unless signingKid/);
  });
});
