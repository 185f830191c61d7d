import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** How a service's package runs in production: its `start` script, `[VAR=value ...] node [flags] <script>`. */
export interface StartCommand {
  /** The `VAR=value` assignments before `node`. */
  env: Record<string, string>;
  /** Node's flags (heap limits, `--liftoff-only`). */
  nodeFlags: string[];
  /** The script's absolute path. */
  script: string;
}

/**
 * Reads the `start` script of the package in `packageDir`, so that the benchmark and the tests run a service exactly
 * as `pnpm start` and its image do; throws if the script has another shape.
 */
export function startCommand(packageDir: string): StartCommand {
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    scripts?: { start?: string };
  };
  const words = (manifest.scripts?.start ?? '').trim().split(/\s+/);
  const env: Record<string, string> = {};
  for (let word = words[0]; word !== undefined && /^[A-Za-z_][A-Za-z0-9_]*=/.test(word); word = words[0]) {
    const at = word.indexOf('=');
    env[word.slice(0, at)] = word.slice(at + 1);
    words.shift();
  }
  const [command, ...args] = words;
  const script = args.pop();
  if (command !== 'node' || script === undefined || script.startsWith('-')) {
    throw new Error(`${packageDir}: start is not "[VAR=value ...] node [flags] <script>"`);
  }
  return { env, nodeFlags: args, script: join(packageDir, script) };
}
