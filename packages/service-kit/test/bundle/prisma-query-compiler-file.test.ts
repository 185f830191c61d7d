// The bundler's Prisma plugin on a stand-in for the generated client: the same shape of `getQueryCompilerWasmModule`
// (tsc's output) importing a base64 module, here of the smallest valid WebAssembly module.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { bundleServer, PRISMA_QUERY_COMPILER_FILE } from '../../src/bundle/index.js';

// "\0asm" and version 1: a module with no sections.
const EMPTY_WASM = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

const GENERATED_CLASS = `
async function decodeBase64AsWasm(wasmBase64) {
    const { Buffer } = await import('node:buffer');
    return new WebAssembly.Module(Buffer.from(wasmBase64, 'base64'));
}
export const compilerWasm = {
    getQueryCompilerWasmModule: async () => {
        const { wasm } = await import("./query_compiler_bg.wasm-base64.mjs");
        return await decodeBase64AsWasm(wasm);
    },
};
`;

let dir: string;

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function project(classSource: string): Promise<{ entry: string; outfile: string }> {
  dir = await mkdtemp(join(tmpdir(), 'mxp-bundle-'));
  const internal = join(dir, 'generated', 'prisma', 'internal');
  await mkdir(internal, { recursive: true });
  await writeFile(join(internal, 'class.js'), classSource);
  await writeFile(
    join(internal, 'query_compiler_bg.wasm-base64.mjs'),
    `export const wasm = ${JSON.stringify(EMPTY_WASM.toString('base64'))};\n`,
  );
  const entry = join(dir, 'server.js');
  await writeFile(entry, "export { compilerWasm } from './generated/prisma/internal/class.js';\n");
  // dist/ does not exist yet: the plugin writes the compiler before esbuild writes the bundle.
  return { entry, outfile: join(dir, 'dist', 'server.bundle.js') };
}

describe('bundleServer with the Prisma query compiler', () => {
  it('writes the compiler beside the bundle, which compiles it from there and holds no base64 copy', async () => {
    const { entry, outfile } = await project(GENERATED_CLASS);
    await bundleServer({ entry, outfile });

    expect(await readFile(join(dir, 'dist', PRISMA_QUERY_COMPILER_FILE))).toEqual(EMPTY_WASM);
    expect(await readFile(outfile, 'utf8')).not.toContain(EMPTY_WASM.toString('base64'));
    const bundled = (await import(pathToFileURL(outfile).href)) as {
      compilerWasm: { getQueryCompilerWasmModule: () => Promise<WebAssembly.Module> };
    };
    const compiled = await bundled.compilerWasm.getQueryCompilerWasmModule();
    expect(Object.prototype.toString.call(compiled)).toBe('[object WebAssembly.Module]');
  });

  it('fails the build when the generated client loads its compiler some other way', async () => {
    const changed = GENERATED_CLASS.replace('decodeBase64AsWasm(wasm)', 'decodeWasm(wasm)');
    const { entry, outfile } = await project(changed);
    await expect(bundleServer({ entry, outfile })).rejects.toThrow(/no getQueryCompilerWasmModule/);
  });
});
