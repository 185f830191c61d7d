import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadOrCreateDevKeySet, type SigningAlgorithm, signJwt, verifyJwt } from '../src/index.js';
import { devKeySetFileName } from '../src/load-dev-key-set.js';
import { expectJwtError, SIGN_OPTIONS, verifyOptions } from './helpers.js';

const posixOnly = process.platform === 'win32' ? it.skip : it;

let root: string;
let dir: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'jwt-core-'));
  dir = join(root, '.data', 'keys');
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('loadOrCreateDevKeySet', () => {
  posixOnly('creates the directory 0700 and a private JWK Set file 0600', async () => {
    const keySet = await loadOrCreateDevKeySet(dir, 'ES256');
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const file = join(dir, devKeySetFileName('ES256'));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(await readFile(file, 'utf8'));
    expect(stored.keys).toHaveLength(1);
    expect(stored.keys[0]).toMatchObject({ kty: 'EC', alg: 'ES256', use: 'sig', kid: keySet.signingKey.kid });
    expect(typeof stored.keys[0].d).toBe('string');
  });

  it('generates once and reuses the key afterwards', async () => {
    const first = await loadOrCreateDevKeySet(dir, 'EdDSA');
    const { token } = await signJwt(first, {}, SIGN_OPTIONS);
    const second = await loadOrCreateDevKeySet(dir, 'EdDSA');
    expect(second.signingKey.kid).toBe(first.signingKey.kid);
    await expect(verifyJwt(token, second, verifyOptions(['EdDSA']))).resolves.toBeDefined();
  });

  it.each(['ES256', 'EdDSA', 'HS256', 'RS256'] as const)('keeps a separate %s file', async (alg: SigningAlgorithm) => {
    const keySet = await loadOrCreateDevKeySet(dir, alg);
    expect(keySet.signingKey.alg).toBe(alg);
    expect(await readdir(dir)).toEqual([devKeySetFileName(alg)]);
  });

  it('ends with a single key when several processes start at once', async () => {
    const keySets = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateDevKeySet(dir, 'ES256')));
    expect(new Set(keySets.map(({ signingKey }) => signingKey.kid)).size).toBe(1);
    expect(await readdir(dir)).toEqual([devKeySetFileName('ES256')]);
  });

  posixOnly('refuses a key file other users can read', async () => {
    await loadOrCreateDevKeySet(dir, 'ES256');
    const file = join(dir, devKeySetFileName('ES256'));
    await chmod(file, 0o644);
    const error = await expectJwtError(loadOrCreateDevKeySet(dir, 'ES256'), 'ERR_KEY_CONFIG_INVALID');
    expect(error.message).toContain('chmod 600');
  });

  it('names the file when it is corrupt, without printing it', async () => {
    await loadOrCreateDevKeySet(dir, 'ES256');
    const file = join(dir, devKeySetFileName('ES256'));
    const content = await readFile(file, 'utf8');
    await writeFile(file, content.slice(0, -20));
    const error = await expectJwtError(loadOrCreateDevKeySet(dir, 'ES256'), 'ERR_KEY_CONFIG_INVALID');
    expect(error.message).toContain(file);
    expect(error.message).not.toContain(JSON.parse(content).keys[0].d);
  });

  it('refuses an unsupported algorithm', async () => {
    await expectJwtError(loadOrCreateDevKeySet(dir, 'none' as SigningAlgorithm), 'ERR_ARGUMENT_INVALID');
  });
});
