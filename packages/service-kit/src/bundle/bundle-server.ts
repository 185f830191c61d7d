// A service's production entry point as one ES module. Unbundled, a service resolved and read ~1,200 module and
// package.json files one by one at start: auth-service answered its first 200 after 1.1-1.3 s here, the bundle after
// 0.6-0.8 s, measured back to back. Build tooling only: nothing at run time imports this module.
import { stat } from 'node:fs/promises';
import { prismaQueryCompilerFile } from './prisma-query-compiler-file.js';

/**
 * What `bundleServer` builds: one entry point (a service's `dist/server.js`) into one file beside it, and Prisma's
 * query compiler into `prisma-query-compiler.wasm` beside that (prisma-query-compiler-file.ts).
 */
export interface BundleServerOptions {
  /** The entry module: the compiled `server.js`, or `src/server.ts` with `conditions: ['@mxp/source']`. */
  entry: string;
  /** The bundle's path. Packages left outside it resolve from here, so it must sit inside the service's folder. */
  outfile: string;
  /** Package export conditions to resolve with (the workspace's `@mxp/source` bundles TypeScript sources). */
  conditions?: string[];
}

// Loaded from node_modules at run time: native code cannot be inlined. @node-rs/* (argon2) picks its per-platform
// binary package at run time; pg requires pg-native only when asked for it (never here).
const EXTERNAL = ['@node-rs/*', 'pg-native', '*.node'];

// Bundled CommonJS modules call `require` (for node: builtins and for packages left outside): an ES module has none.
const REQUIRE_BANNER =
  "import { createRequire as __mxpCreateRequire } from 'node:module'; const require = __mxpCreateRequire(import.meta.url);";

/** Bundles a service's entry point and its dependencies into one ES module with a source map; returns its size. */
export async function bundleServer(options: BundleServerOptions): Promise<{ outfile: string; bytes: number }> {
  // Loaded only to bundle: the benchmark imports this entry point for `startCommand` alone.
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [options.entry],
    outfile: options.outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Stack traces name the bundle's lines; `node --enable-source-maps` (or the map, offline) maps them back.
    sourcemap: 'linked',
    // No `keepNames`: it wraps every named function expression in a `__name` call (Object.defineProperty) run each
    // time the expression is evaluated, closures in request handlers included: ~5% of otherclient's main-thread CPU
    // under api-token (cpuprofile). Without minification esbuild renames only identifiers that collide between
    // modules (TypeBox's internal helpers, mostly), none of them an error class, so error names in logs are unchanged.
    external: EXTERNAL,
    plugins: [prismaQueryCompilerFile(options.outfile)],
    conditions: options.conditions ?? [],
    banner: { js: REQUIRE_BANNER },
    logLevel: 'silent',
  });
  // Warnings (a require esbuild cannot follow, a duplicate key) mean the bundle may not behave like the modules.
  if (result.warnings.length > 0) {
    const text = result.warnings.map((warning) => `${warning.location?.file ?? ''}: ${warning.text}`).join('\n');
    throw new Error(`bundling ${options.entry} warned:\n${text}`);
  }
  return { outfile: options.outfile, bytes: (await stat(options.outfile)).size };
}
