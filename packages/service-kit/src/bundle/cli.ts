// `node ../../packages/service-kit/dist/bundle/cli.js`, run by a service's `build` script in its own folder after tsc:
// bundles dist/server.js into dist/server.bundle.js, which `start` and the service's image run.
import { resolve } from 'node:path';
import { bundleServer } from './bundle-server.js';

const { outfile, bytes } = await bundleServer({
  entry: resolve('dist/server.js'),
  outfile: resolve('dist/server.bundle.js'),
});
console.log(`bundled ${outfile} (${(bytes / 1e6).toFixed(1)} MB)`);
