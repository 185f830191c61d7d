import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AsymmetricAlgorithm,
  DEFAULT_ALGORITHM,
  importKeySet,
  JwtCoreError,
  type KeySet,
  loadOrCreateDevKeySet,
  type SigningAlgorithm,
} from '@mxp/jwt-core';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { ConfigError, OneOf } from './config.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The service's JWT keys: one signs, all verify (rotation). */
    signingKeys: KeySet;
  }
}

/** Variables of the signing keys, shared by both services. */
export const SigningKeyConfigProperties = {
  JWT_ALGORITHM: OneOf(['ES256', 'EdDSA', 'HS256', 'RS256'], { default: DEFAULT_ALGORITHM }),
  JWT_PRIVATE_JWKS: Type.Optional(Type.String({ minLength: 2, description: 'Private JWK Set (JSON)' })),
  JWT_PRIVATE_KEY_FILES: Type.Optional(
    Type.String({ minLength: 1, description: 'Comma-separated PKCS8/SPKI PEM files of JWT_ALGORITHM' }),
  ),
  JWT_HS256_SECRET: Type.Optional(Type.String({ minLength: 32, description: 'Shared secret for HS256' })),
  JWT_SIGNING_KID: Type.Optional(Type.String({ minLength: 1 })),
  JWT_ISSUER: Type.Optional(Type.String({ minLength: 1 })),
};

interface SigningKeyConfig {
  NODE_ENV: string;
  DATA_DIR: string;
  JWT_ALGORITHM: string;
  JWT_PRIVATE_JWKS?: string | undefined;
  JWT_PRIVATE_KEY_FILES?: string | undefined;
  JWT_HS256_SECRET?: string | undefined;
  JWT_SIGNING_KID?: string | undefined;
}

/**
 * The key set from configuration (JWK Set, PEM files and/or an HS256 secret). Development without any of them uses
 * keys generated once in DATA_DIR/<service>; production without them refuses to start.
 */
export async function loadSigningKeys(config: SigningKeyConfig, serviceName: string): Promise<KeySet> {
  const algorithm = config.JWT_ALGORITHM as SigningAlgorithm;
  const pemFiles = (config.JWT_PRIVATE_KEY_FILES ?? '')
    .split(',')
    .map((path) => path.trim())
    .filter(Boolean);
  try {
    if (config.JWT_PRIVATE_JWKS || pemFiles.length > 0 || config.JWT_HS256_SECRET) {
      if (pemFiles.length > 0 && algorithm === 'HS256') {
        throw new ConfigError(['JWT_PRIVATE_KEY_FILES needs an asymmetric JWT_ALGORITHM']);
      }
      return await importKeySet({
        jwks: config.JWT_PRIVATE_JWKS,
        pem: pemFiles.map((path) => ({ pem: readPem(path), alg: algorithm as AsymmetricAlgorithm })),
        secrets: config.JWT_HS256_SECRET
          ? [{ kid: hs256Kid(config.JWT_HS256_SECRET), secret: config.JWT_HS256_SECRET }]
          : undefined,
        signingKid: config.JWT_SIGNING_KID,
      });
    }
    if (config.NODE_ENV === 'production') {
      throw new ConfigError([
        'JWT_PRIVATE_JWKS (or JWT_PRIVATE_KEY_FILES, or JWT_HS256_SECRET) is required in production',
      ]);
    }
    return await loadOrCreateDevKeySet(join(config.DATA_DIR, serviceName), algorithm);
  } catch (error) {
    if (error instanceof JwtCoreError) throw new ConfigError([`JWT keys: ${error.message}`]);
    throw error;
  }
}

function readPem(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`JWT_PRIVATE_KEY_FILES: ${path} cannot be read (${(error as NodeJS.ErrnoException).code})`]);
  }
}

// A kid that changes with the secret (so rotation works) without revealing anything about a 256-bit secret.
function hs256Kid(secret: string): string {
  return `hs256-${createHash('sha256').update(secret).digest('hex').slice(0, 12)}`;
}

/** The `iss` of the service's tokens: JWT_ISSUER, else the service's own base URL from HOST and PORT. */
export function issuerOf(config: { JWT_ISSUER?: string | undefined; HOST: string; PORT: number }): string {
  if (config.JWT_ISSUER) return config.JWT_ISSUER;
  const host = ['0.0.0.0', '::', ''].includes(config.HOST) ? 'localhost' : config.HOST;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.PORT}`;
}

/** Makes the key set available as `app.signingKeys`. */
export const signingKeysPlugin = fp<{ keySet: KeySet }>(
  async (app, { keySet }) => {
    app.decorate('signingKeys', keySet);
  },
  { name: 'mxp-signing-keys', fastify: '5.x' },
);
