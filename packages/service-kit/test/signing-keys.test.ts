import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJwks, generateSigningKey } from '@mxp/jwt-core';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config.js';
import { issuerOf, loadSigningKeys } from '../src/signing-keys.js';

const base = { NODE_ENV: 'production', DATA_DIR: '/nonexistent', JWT_ALGORITHM: 'ES256' };

describe('loadSigningKeys', () => {
  it('refuses to start in production without keys, naming the variables', async () => {
    await expect(loadSigningKeys(base, 'svc')).rejects.toThrow(ConfigError);
    await expect(loadSigningKeys(base, 'svc')).rejects.toThrow(/JWT_PRIVATE_JWKS .* is required in production/);
  });

  it('loads a JWK Set where the chosen kid signs and the others still verify', async () => {
    const oldKey = await generateSigningKey('ES256');
    const newKey = await generateSigningKey('ES256');
    const keySet = await loadSigningKeys(
      { ...base, JWT_PRIVATE_JWKS: JSON.stringify({ keys: [oldKey, newKey] }), JWT_SIGNING_KID: newKey.kid },
      'svc',
    );
    expect(keySet.signingKey.kid).toBe(newKey.kid);
    expect([...keySet.verificationKeys.keys()].sort()).toEqual([oldKey.kid, newKey.kid].sort());
  });

  it('loads PEM files', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const file = join(mkdtempSync(join(tmpdir(), 'mxp-pem-')), 'key.pem');
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const keySet = await loadSigningKeys({ ...base, JWT_PRIVATE_KEY_FILES: file }, 'svc');
    expect(keySet.signingKey.alg).toBe('ES256');
    expect(exportJwks(keySet).keys).toHaveLength(1);
    await expect(loadSigningKeys({ ...base, JWT_PRIVATE_KEY_FILES: `${file}.missing` }, 'svc')).rejects.toThrow(
      /JWT_PRIVATE_KEY_FILES: .* cannot be read \(ENOENT\)/,
    );
  });

  it('signs HS256 with a configured secret and publishes no key for it', async () => {
    const keySet = await loadSigningKeys({ ...base, JWT_ALGORITHM: 'HS256', JWT_HS256_SECRET: 's'.repeat(32) }, 'svc');
    expect(keySet.signingKey.alg).toBe('HS256');
    expect(keySet.signingKey.kid).toMatch(/^hs256-[0-9a-f]{12}$/);
    expect(exportJwks(keySet).keys).toEqual([]);
  });

  it('reports an invalid JWK Set as a configuration error without echoing it', async () => {
    const secretLooking = '{"keys":[{"kty":"EC","d":"TOP-SECRET"';
    const attempt = loadSigningKeys({ ...base, JWT_PRIVATE_JWKS: secretLooking }, 'svc');
    await expect(attempt).rejects.toThrow(ConfigError);
    await expect(loadSigningKeys({ ...base, JWT_PRIVATE_JWKS: secretLooking }, 'svc')).rejects.not.toThrow(
      /TOP-SECRET/,
    );
  });

  it('generates development keys once and reuses them', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mxp-dev-keys-'));
    const dev = { NODE_ENV: 'development', DATA_DIR: dataDir, JWT_ALGORITHM: 'ES256' };
    const first = await loadSigningKeys(dev, 'svc');
    const second = await loadSigningKeys(dev, 'svc');
    expect(second.signingKey.kid).toBe(first.signingKey.kid);
  });
});

describe('issuerOf', () => {
  it('defaults to the service’s own base URL', () => {
    expect(issuerOf({ HOST: '127.0.0.1', PORT: 3001 })).toBe('http://127.0.0.1:3001');
    expect(issuerOf({ HOST: '0.0.0.0', PORT: 3001 })).toBe('http://localhost:3001');
    expect(issuerOf({ HOST: '::1', PORT: 3002 })).toBe('http://[::1]:3002');
    expect(issuerOf({ HOST: '0.0.0.0', PORT: 3001, JWT_ISSUER: 'https://auth.maxpoint.example' })).toBe(
      'https://auth.maxpoint.example',
    );
  });
});
