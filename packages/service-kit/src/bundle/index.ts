export { type BundleServerOptions, bundleServer } from './bundle-server.js';
export { PRISMA_QUERY_COMPILER_FILE } from './prisma-query-compiler-file.js';
export { type StartCommand, startCommand } from './start-command.js';
