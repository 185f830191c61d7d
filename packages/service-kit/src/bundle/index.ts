export { type BundleServerOptions, bundleServer } from './bundle-server.js';
export { type StartCommand, startCommand } from './start-command.js';
