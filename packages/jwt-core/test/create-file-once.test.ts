import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileOnce } from '../src/lib/create-file-once.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jwt-core-once-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('createFileOnce (what keeps concurrent dev-key creation safe)', () => {
  it('never replaces an existing file, and leaves no temporary file behind', async () => {
    const file = join(dir, 'keys.json');
    expect(await createFileOnce(file, 'first')).toBe(true);
    expect(await createFileOnce(file, 'second')).toBe(false);
    expect(await readFile(file, 'utf8')).toBe('first');
    expect(await readdir(dir)).toEqual(['keys.json']);
  });

  it('lets exactly one of many concurrent writers win', async () => {
    const file = join(dir, 'keys.json');
    const created = await Promise.all(Array.from({ length: 8 }, (_, i) => createFileOnce(file, `writer ${i}`)));
    expect(created.filter(Boolean)).toHaveLength(1);
    expect(await readFile(file, 'utf8')).toBe(`writer ${created.indexOf(true)}`);
  });

  it.skipIf(process.platform === 'win32')('creates the file with mode 0600', async () => {
    const file = join(dir, 'keys.json');
    await createFileOnce(file, 'x');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });
});
