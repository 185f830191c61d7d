import { randomBytes } from 'node:crypto';
import { link, unlink, writeFile } from 'node:fs/promises';

/** Whether `error` is a Node.js system error with this `code` (e.g. `ENOENT`). */
export function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === code;
}

/**
 * Creates `file` (mode 0600) with `content` unless it already exists; returns whether this call created it.
 * The content is written under a temporary name and hard-linked into place: link() fails if the target exists, so
 * two services starting at once cannot overwrite each other's key, and nobody ever reads a half-written file.
 */
export async function createFileOnce(file: string, content: string): Promise<boolean> {
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, content, { mode: 0o600, flag: 'wx' });
  try {
    await link(temporary, file);
    return true;
  } catch (error) {
    if (isErrno(error, 'EEXIST')) return false;
    throw error;
  } finally {
    await unlink(temporary);
  }
}
