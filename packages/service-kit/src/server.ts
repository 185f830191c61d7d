import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';
import { ConfigError } from './config.js';

/**
 * Entry point of a service process: loads the config (exiting with the variable's name when it is bad), builds the
 * app, listens, and closes gracefully on SIGTERM/SIGINT or a fatal error.
 */
export async function startService<Config extends { HOST: string; PORT: number }>(
  loadConfig: () => Config,
  buildApp: (config: Config) => Promise<FastifyInstance>,
): Promise<FastifyInstance> {
  let config: Config;
  let app: FastifyInstance;
  try {
    config = loadConfig();
    // Building loads keys and other configured material, which can be invalid too.
    app = await buildApp(config);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  closeWithGrace({ delay: 10_000, logger: { error: (message) => app.log.error(message) } }, async ({ err, signal }) => {
    if (err) app.log.error({ err }, 'closing after a fatal error');
    else app.log.info({ signal }, 'closing');
    await app.close();
  });
  await app.listen({ host: config.HOST, port: config.PORT });
  return app;
}
