import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { type AsymmetricAlgorithm, SIGNING_ALGORITHMS, type SigningAlgorithm } from '../algorithms.js';
import { JwtCoreError } from '../errors.js';
import type { CryptoKey, KeySet, PublicJwk, VerificationKey } from '../types.js';
import { IMPORT_PARAMS } from './web-crypto-params.js';

/** One configured key after import: it always verifies, and signs only when private material was given. */
export interface ImportedKey {
  readonly verification: VerificationKey;
  readonly signKey: CryptoKey | undefined;
}

/** RFC 7518 §3.2: an HS256 key must be at least as long as the SHA-256 output. */
export const MIN_HMAC_SECRET_BYTES = 32;

const MIN_RSA_BITS = 2048;

function configError(message: string): JwtCoreError {
  return new JwtCoreError('ERR_KEY_CONFIG_INVALID', message);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSigningAlgorithm(value: unknown): value is SigningAlgorithm {
  return typeof value === 'string' && (SIGNING_ALGORITHMS as readonly string[]).includes(value);
}

function checkKid(kid: unknown, label: string): string {
  if (typeof kid !== 'string' || kid.length === 0) throw configError(`${label}: "kid" must be a non-empty string`);
  return kid;
}

// Describes a key by type and size only, so an error message can say what was found without printing the key.
function describeKey(keyObject: KeyObject): string {
  const details = keyObject.asymmetricKeyDetails;
  if (keyObject.asymmetricKeyType === 'ec') return `an EC ${details?.namedCurve ?? 'unknown-curve'} key`;
  if (keyObject.asymmetricKeyType === 'rsa') return `an RSA ${details?.modulusLength ?? '?'}-bit key`;
  return `an ${keyObject.asymmetricKeyType ?? keyObject.type} key`;
}

function checkKeyFitsAlgorithm(keyObject: KeyObject, alg: AsymmetricAlgorithm, label: string): void {
  const type = keyObject.asymmetricKeyType;
  const details = keyObject.asymmetricKeyDetails;
  const fits =
    (alg === 'ES256' && type === 'ec' && details?.namedCurve === 'prime256v1') ||
    (alg === 'EdDSA' && type === 'ed25519') ||
    (alg === 'RS256' && type === 'rsa' && (details?.modulusLength ?? 0) >= MIN_RSA_BITS);
  if (!fits) {
    const needs = { ES256: 'an EC P-256 key', EdDSA: 'an Ed25519 key', RS256: `an RSA key of ${MIN_RSA_BITS}+ bits` };
    throw configError(`${label}: alg "${alg}" needs ${needs[alg]}, got ${describeKey(keyObject)}`);
  }
}

// Copies only the public members by name: safer than deleting private ones, which would miss any we forgot.
function publicMembers(jwk: JsonWebKey, kid: string, alg: AsymmetricAlgorithm): PublicJwk {
  if (jwk.kty === 'EC') return { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y, kid, alg, use: 'sig' };
  if (jwk.kty === 'OKP') return { kty: 'OKP', crv: jwk.crv, x: jwk.x, kid, alg, use: 'sig' };
  return { kty: 'RSA', n: jwk.n, e: jwk.e, kid, alg, use: 'sig' };
}

async function importAsymmetric(
  keyObject: KeyObject,
  alg: AsymmetricAlgorithm,
  kid: string | undefined,
  label: string,
): Promise<ImportedKey> {
  checkKeyFitsAlgorithm(keyObject, alg, label);
  const isPrivate = keyObject.type === 'private';
  const publicJwkBase = (isPrivate ? createPublicKey(keyObject) : keyObject).export({ format: 'jwk' });
  // RFC 7638 thumbprint: a stable kid derived from the public key, so the same key always gets the same kid.
  const resolvedKid = kid ?? (await calculateJwkThumbprint(publicJwkBase as JWK, 'sha256'));
  const publicJwk = publicMembers(publicJwkBase, resolvedKid, alg);
  const params = IMPORT_PARAMS[alg];
  const { kty, crv, x, y, n, e } = publicJwk;
  const verifyKey = await crypto.subtle.importKey('jwk', { kty, crv, x, y, n, e }, params, true, ['verify']);
  // Not extractable: once imported, the private key cannot be read back out of the process by this API.
  const signKey = isPrivate
    ? await crypto.subtle.importKey('jwk', keyObject.export({ format: 'jwk' }), params, false, ['sign'])
    : undefined;
  return { verification: { kid: resolvedKid, alg, key: verifyKey, publicJwk }, signKey };
}

async function importHmac(secret: Uint8Array, kid: string, label: string): Promise<ImportedKey> {
  if (secret.byteLength < MIN_HMAC_SECRET_BYTES) {
    throw configError(
      `${label}: an HS256 secret must be at least ${MIN_HMAC_SECRET_BYTES} bytes, got ${secret.byteLength}`,
    );
  }
  // One key object serves both directions: a shared secret has no public half.
  const key = await crypto.subtle.importKey('raw', secret, IMPORT_PARAMS.HS256, false, ['sign', 'verify']);
  return { verification: { kid, alg: 'HS256', key, publicJwk: undefined }, signKey: key };
}

/** Imports one JWK from a configured JWK Set (private keys sign, public keys only verify). */
export async function importJwk(input: unknown, label: string): Promise<ImportedKey> {
  if (!isPlainObject(input)) throw configError(`${label}: must be a JWK object`);
  const { kty, alg, use, kid } = input;
  if (!isSigningAlgorithm(alg)) {
    throw configError(`${label}: "alg" must be one of ${SIGNING_ALGORITHMS.join(', ')}`);
  }
  if (use !== undefined && use !== 'sig') throw configError(`${label}: "use" must be "sig" when present`);
  const checkedKid = kid === undefined ? undefined : checkKid(kid, label);

  if (kty === 'oct' || alg === 'HS256') {
    if (kty !== 'oct' || alg !== 'HS256') throw configError(`${label}: only "oct" keys use alg "HS256" and vice versa`);
    if (typeof input.k !== 'string') throw configError(`${label}: an "oct" JWK needs "k"`);
    return importHmac(Buffer.from(input.k, 'base64url'), checkKid(kid, label), label);
  }
  if (kty !== 'EC' && kty !== 'OKP' && kty !== 'RSA') throw configError(`${label}: "kty" must be EC, OKP, RSA or oct`);

  let keyObject: KeyObject;
  try {
    const jwk = input as JsonWebKey;
    keyObject =
      input.d === undefined
        ? createPublicKey({ key: jwk, format: 'jwk' })
        : createPrivateKey({ key: jwk, format: 'jwk' });
  } catch {
    // The parser's message is dropped on purpose: it is not needed to fix the config and could echo input.
    throw configError(`${label}: not a valid ${kty} JWK`);
  }
  return importAsymmetric(keyObject, alg, checkedKid, label);
}

/** Imports a PEM key: PKCS8 private keys sign and verify, SPKI public keys only verify. */
export async function importPem(pem: unknown, alg: unknown, kid: unknown, label: string): Promise<ImportedKey> {
  if (typeof pem !== 'string') throw configError(`${label}: "pem" must be a string`);
  if (alg !== 'ES256' && alg !== 'EdDSA' && alg !== 'RS256') {
    throw configError(`${label}: "alg" must be ES256, EdDSA or RS256 (HS256 takes a secret, not a PEM)`);
  }
  const checkedKid = kid === undefined ? undefined : checkKid(kid, label);
  const blocks = [...pem.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((match) => match[1]);
  if (blocks.length !== 1) throw configError(`${label}: expected exactly one PEM block, found ${blocks.length}`);
  const blockType = blocks[0];
  let keyObject: KeyObject;
  try {
    if (blockType === 'PRIVATE KEY') keyObject = createPrivateKey({ key: pem, format: 'pem', type: 'pkcs8' });
    else if (blockType === 'PUBLIC KEY') keyObject = createPublicKey({ key: pem, format: 'pem', type: 'spki' });
    else {
      throw configError(
        `${label}: expected "BEGIN PRIVATE KEY" (PKCS8) or "BEGIN PUBLIC KEY" (SPKI), got "BEGIN ${blockType}"` +
          (blockType === 'ENCRYPTED PRIVATE KEY' ? ' (decrypt it first)' : ' (convert it with openssl pkcs8/pkey)'),
      );
    }
  } catch (error) {
    if (error instanceof JwtCoreError) throw error;
    throw configError(`${label}: the "${blockType}" PEM block could not be parsed`);
  }
  return importAsymmetric(keyObject, alg, checkedKid, label);
}

/** Imports an HS256 shared secret; a string secret is taken as its UTF-8 bytes. */
export async function importSecret(secret: unknown, kid: unknown, label: string): Promise<ImportedKey> {
  const checkedKid = checkKid(kid, label);
  if (typeof secret === 'string') return importHmac(Buffer.from(secret, 'utf8'), checkedKid, label);
  if (secret instanceof Uint8Array) return importHmac(secret, checkedKid, label);
  throw configError(`${label}: "secret" must be a string or a Uint8Array`);
}

/** Puts imported keys together, checking kids are unique and choosing the one signing key. */
export function assembleKeySet(imported: readonly ImportedKey[], signingKid: string | undefined): KeySet {
  if (imported.length === 0) throw configError('no keys configured');
  const verificationKeys = new Map<string, VerificationKey>();
  for (const { verification } of imported) {
    if (verificationKeys.has(verification.kid)) throw configError(`duplicate kid "${verification.kid}"`);
    verificationKeys.set(verification.kid, Object.freeze(verification));
  }
  // Without signingKid the first key signs; it is not silently skipped when public, since that would make the
  // choice depend on which keys happen to carry private material.
  const chosen =
    signingKid === undefined ? imported[0] : imported.find(({ verification }) => verification.kid === signingKid);
  if (chosen === undefined) throw configError(`signingKid "${signingKid}" names no configured key`);
  if (chosen.signKey === undefined) {
    throw configError(
      `key "${chosen.verification.kid}" is chosen to sign but is public only` +
        (signingKid === undefined ? ' (the first key signs unless signingKid is set)' : ''),
    );
  }
  const { kid, alg } = chosen.verification;
  return Object.freeze({
    signingKey: Object.freeze({ kid, alg, key: chosen.signKey }),
    verificationKeys,
  });
}
