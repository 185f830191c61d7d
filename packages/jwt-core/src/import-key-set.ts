import type { AsymmetricAlgorithm } from './algorithms.js';
import { JwtCoreError } from './errors.js';
import { assembleKeySet, type ImportedKey, importJwk, importPem, importSecret } from './lib/import-keys.js';
import type { KeySet } from './types.js';

/** A PEM key: `BEGIN PRIVATE KEY` (PKCS8) signs and verifies, `BEGIN PUBLIC KEY` (SPKI) only verifies. */
export interface PemKeyConfig {
  pem: string;
  alg: AsymmetricAlgorithm;
  /** Defaults to the RFC 7638 thumbprint of the public key. */
  kid?: string;
}

/** An HS256 shared secret of at least 32 bytes (a string is taken as UTF-8). */
export interface SecretKeyConfig {
  kid: string;
  secret: string | Uint8Array;
}

/**
 * Key configuration. Keys are taken in this order: `jwks` keys, then `pem`, then `secrets`; without `signingKid`
 * the first of them signs (and must be private).
 */
export interface KeySetConfig {
  /** A JWK Set, as an object or its JSON text. Each key needs `alg`; `kid` defaults to the RFC 7638 thumbprint
   *  (except `oct` keys, which need one). Private keys can sign, public ones only verify. */
  jwks?: { keys: readonly unknown[] } | string;
  pem?: readonly PemKeyConfig[];
  secrets?: readonly SecretKeyConfig[];
  /** The kid of the key that signs; the others only verify (rotation). */
  signingKid?: string;
}

function configError(message: string): JwtCoreError {
  return new JwtCoreError('ERR_KEY_CONFIG_INVALID', message);
}

function parseJwks(jwks: unknown): readonly unknown[] {
  let parsed = jwks;
  if (typeof jwks === 'string') {
    try {
      parsed = JSON.parse(jwks);
    } catch {
      // JSON.parse's message quotes the input, which here is private key material.
      throw configError('jwks: not valid JSON');
    }
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray(keys)) {
    throw configError('jwks: must be a JWK Set, {"keys": [...]}');
  }
  return keys;
}

function listOf(value: unknown, name: string): readonly Record<string, unknown>[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'object' || item === null)) {
    throw configError(`${name}: must be an array of objects`);
  }
  return value;
}

/** Builds a {@link KeySet} from configuration, importing every key once; throws `ERR_KEY_CONFIG_INVALID`. */
export async function importKeySet(config: KeySetConfig): Promise<KeySet> {
  if (typeof config !== 'object' || config === null) throw configError('key set configuration must be an object');
  if (config.signingKid !== undefined && (typeof config.signingKid !== 'string' || config.signingKid === '')) {
    throw configError('signingKid: must be a non-empty string');
  }
  const jwkKeys = config.jwks === undefined ? [] : parseJwks(config.jwks);
  const imported: ImportedKey[] = [];
  for (const [index, jwk] of jwkKeys.entries()) imported.push(await importJwk(jwk, `jwks.keys[${index}]`));
  for (const [index, entry] of listOf(config.pem, 'pem').entries()) {
    imported.push(await importPem(entry.pem, entry.alg, entry.kid, `pem[${index}]`));
  }
  for (const [index, entry] of listOf(config.secrets, 'secrets').entries()) {
    imported.push(await importSecret(entry.secret, entry.kid, `secrets[${index}]`));
  }
  return assembleKeySet(imported, config.signingKid);
}
