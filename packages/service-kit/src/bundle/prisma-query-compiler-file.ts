// Prisma's generated client loads its query compiler (WebAssembly, 3.4 MB) from a module that holds it as one base64
// string literal (4.6 MB). Bundled, that literal stays in the V8 heap twice for the life of the process: in the
// bundle's source text, which V8 keeps for lazy compilation, and as the string itself, which the module's exports keep.
// This plugin writes the compiler's bytes to a file beside the bundle instead and makes the client compile that file:
// a service's idle RSS went from 140 to 122 MB (V8's large-object space from 23 to 9.5 MB) and the bundle from 8.4
// to 3.9 MB, with the same WebAssembly module compiled from the same bytes.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Plugin } from 'esbuild';

/** The compiler's file, beside the bundle (the image copies the whole `dist` folder). */
export const PRISMA_QUERY_COMPILER_FILE = 'prisma-query-compiler.wasm';

// The generated client's `internal/class.ts` (bundled from sources in tests) or its tsc output `class.js`.
const GENERATED_CLASS = /[\\/]generated[\\/]prisma[\\/]internal[\\/]class\.[jt]s$/;

// `getQueryCompilerWasmModule: async () => { const { wasm } = await import("<base64 module>"); return await
// decodeBase64AsWasm(wasm); }`, with or without semicolons (TypeScript as generated, JavaScript as tsc prints it).
const LOAD_FROM_BASE64 =
  /getQueryCompilerWasmModule:\s*async\s*\(\)\s*=>\s*\{\s*const\s*\{\s*wasm\s*\}\s*=\s*await\s+import\("([^"]+)"\);?\s*return\s+await\s+decodeBase64AsWasm\(wasm\);?\s*\}/;

const LOAD_FROM_FILE = `getQueryCompilerWasmModule: async () => new WebAssembly.Module(await (await import('node:fs/promises')).readFile(new URL('./${PRISMA_QUERY_COMPILER_FILE}', import.meta.url)))`;

/**
 * An esbuild plugin that writes Prisma's query compiler to {@link PRISMA_QUERY_COMPILER_FILE} beside `outfile` and
 * makes the bundled client read it from there. Fails the build if the generated client no longer has the expected
 * shape (a Prisma upgrade), rather than silently bundling the base64 string again.
 */
export function prismaQueryCompilerFile(outfile: string): Plugin {
  return {
    name: 'mxp-prisma-query-compiler-file',
    setup(build) {
      build.onLoad({ filter: GENERATED_CLASS }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        const found = LOAD_FROM_BASE64.exec(source);
        const specifier = found?.[1];
        if (found === null || specifier === undefined) {
          throw new Error(
            `${args.path}: no getQueryCompilerWasmModule that imports a base64 module (Prisma upgraded?)`,
          );
        }
        const resolved = await build.resolve(specifier, { kind: 'dynamic-import', resolveDir: dirname(args.path) });
        if (resolved.errors.length > 0) throw new Error(`${args.path}: cannot resolve ${specifier}`);
        const { wasm } = (await import(pathToFileURL(resolved.path).href)) as { wasm: string };
        await mkdir(dirname(outfile), { recursive: true });
        await writeFile(join(dirname(outfile), PRISMA_QUERY_COMPILER_FILE), Buffer.from(wasm, 'base64'));
        // Sliced rather than String.replace (whose replacement string gives `$` a meaning), and as many lines as the
        // code replaced, so the source map still points at the generated client's own lines after it.
        const lineBreaks = '\n'.repeat(found[0].split('\n').length - 1);
        const contents =
          source.slice(0, found.index) + LOAD_FROM_FILE + lineBreaks + source.slice(found.index + found[0].length);
        return {
          contents,
          loader: args.path.endsWith('.ts') ? 'ts' : 'js',
          resolveDir: dirname(args.path),
        };
      });
    },
  };
}
