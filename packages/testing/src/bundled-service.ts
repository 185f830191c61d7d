// A service as production runs it: its entry point bundled into one file (what `pnpm build` makes and the image
// runs), started with its package's `start` flags and environment, in a child process of its own.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSigningKey } from '@mxp/jwt-core';
import { bundleServer, PRISMA_QUERY_COMPILER_FILE, startCommand } from '@mxp/service-kit/bundle';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A running bundle: where it listens, what it printed, and how to stop it. */
export interface BundledService {
  baseUrl: string;
  /** The bundle's path (Prisma's query compiler is beside it). */
  outfile: string;
  /** Everything it wrote to stdout and stderr so far. */
  output: () => string;
  /** SIGTERM, then its exit code (SIGKILL after 10 s). */
  stop: () => Promise<number | null>;
}

/**
 * Bundles `apps/<app>/src/server.ts` from the sources (as `pnpm build` bundles the compiled `dist/server.js`) into
 * the app's `.cache/`, where the packages left outside the bundle resolve as they do beside `dist/`, then runs it in
 * production mode (info logs, a fresh ES256 key set, an issuer) with its `start` script's flags and assignments, `env`
 * (the database, the app's own secrets), PORT=0 and HOST=127.0.0.1, and waits for its "Server listening" line.
 */
export async function startBundledService(
  app: 'auth-service' | 'otherclient',
  env: NodeJS.ProcessEnv,
): Promise<BundledService> {
  const appDir = join(REPO_ROOT, 'apps', app);
  const outDir = join(appDir, '.cache', 'bundle-test');
  // Emptied first, so that what the tests find beside the bundle (queryCompilerOf) is what this build wrote.
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const { outfile } = await bundleServer({
    entry: join(appDir, 'src', 'server.ts'),
    outfile: join(outDir, 'server.bundle.js'),
    conditions: ['@mxp/source'],
  });
  const start = startCommand(appDir);
  const production = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    JWT_PRIVATE_JWKS: JSON.stringify({ keys: [await generateSigningKey('ES256')] }),
    JWT_ISSUER: `https://${app}.bundle.invalid`,
  };
  const child = spawn(process.execPath, [...start.nodeFlags, outfile], {
    cwd: appDir,
    env: { PATH: process.env.PATH, ...start.env, ...env, ...production, PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: string) => {
      output += chunk;
      const listening = /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/.exec(output);
      if (listening?.[1]) resolve(listening[1]);
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.stderr?.setEncoding('utf8').on('data', onData);
    void exited.then((code) => reject(new Error(`the bundle exited with ${code} before listening:\n${output}`)));
  });
  return { baseUrl, outfile, output: () => output, stop: () => stopChild(child, exited) };
}

/**
 * Where the bundle's Prisma query compiler is: in its file beside the bundle, and/or inlined in the bundle as base64
 * (a WebAssembly module starts with "\0asm" and version 1, "AGFzbQEAAAA" in base64).
 */
export function queryCompilerOf(service: BundledService): { besideBundle: boolean; inlinedAsBase64: boolean } {
  return {
    besideBundle: existsSync(join(dirname(service.outfile), PRISMA_QUERY_COMPILER_FILE)),
    inlinedAsBase64: readFileSync(service.outfile, 'utf8').includes('AGFzbQEAAAA'),
  };
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}
