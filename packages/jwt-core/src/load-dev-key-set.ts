import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from './algorithms.js';
import { JwtCoreError } from './errors.js';
import { generateSigningKey } from './generate-signing-key.js';
import { importKeySet } from './import-key-set.js';
import { createFileOnce, isErrno } from './lib/create-file-once.js';
import type { KeySet } from './types.js';

/** The file name `loadOrCreateDevKeySet` uses for `alg` inside its `dir` (one file per algorithm). */
export function devKeySetFileName(alg: SigningAlgorithm): string {
  return `jwt-dev-keys.${alg.toLowerCase()}.json`;
}

/**
 * For development only: loads the private JWK Set kept in `dir` for `alg`, generating it on first use. The directory
 * is created with mode 0700 and the file with 0600; a file other users can read is refused.
 */
export async function loadOrCreateDevKeySet(dir: string, alg: SigningAlgorithm): Promise<KeySet> {
  if (!(SIGNING_ALGORITHMS as readonly string[]).includes(alg)) {
    throw new JwtCoreError('ERR_ARGUMENT_INVALID', `alg must be one of ${SIGNING_ALGORITHMS.join(', ')}`);
  }
  const file = join(dir, devKeySetFileName(alg));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    await stat(file);
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
    const jwks = { keys: [await generateSigningKey(alg)] };
    await createFileOnce(file, `${JSON.stringify(jwks, null, 2)}\n`);
  }
  const { mode } = await stat(file);
  // POSIX permission bits are meaningless on Windows.
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new JwtCoreError(
      'ERR_KEY_CONFIG_INVALID',
      `${file} is accessible by other users (mode ${(mode & 0o777).toString(8)}); run chmod 600 on it`,
    );
  }
  const content = await readFile(file, 'utf8');
  try {
    return await importKeySet({ jwks: content });
  } catch (error) {
    if (error instanceof JwtCoreError) {
      throw new JwtCoreError('ERR_KEY_CONFIG_INVALID', `${file}: ${error.message} (delete it to generate a new one)`);
    }
    throw error;
  }
}
