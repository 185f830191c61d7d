// The admin CLIs' real entry points (`apps/<app>/src/cli/admin.ts`), run from source in a child process.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** What an admin command printed, and how it exited. */
export interface AdminEntryResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `apps/<app>/src/cli/admin.ts` with `args` in a child process with exactly `env` (nothing of the test's own
 * environment leaks in), writing `stdin` (default: nothing) to its standard input.
 */
export function runAdminEntry(
  app: 'auth-service' | 'otherclient',
  args: string[],
  env: NodeJS.ProcessEnv,
  stdin = '',
): Promise<AdminEntryResult> {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=@mxp/source', `apps/${app}/src/cli/admin.ts`, ...args],
      { cwd: REPO_ROOT, env, stdio: 'pipe' },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}
