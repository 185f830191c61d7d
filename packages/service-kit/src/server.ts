import type { Server } from 'node:http';
import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';
import { ConfigError } from './config.js';
import { startMetricsServer, stopMetricsServer } from './metrics.js';

interface ListenConfig {
  HOST: string;
  PORT: number;
  METRICS_PORT?: number | undefined;
  METRICS_HOST?: string | undefined;
}

/**
 * Entry point of a service process: loads the config (exiting with the variable's name when it is bad), builds the
 * app, listens (and serves its metrics on `METRICS_PORT` when set), and closes gracefully on SIGTERM/SIGINT or a fatal
 * error.
 */
export async function startService<Config extends ListenConfig>(
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
  let metricsServer: Server | undefined;
  closeWithGrace({ delay: 10_000, logger: { error: (message) => app.log.error(message) } }, async ({ err, signal }) => {
    if (err) app.log.error({ err }, 'closing after a fatal error');
    else app.log.info({ signal }, 'closing');
    await Promise.all([app.close(), metricsServer && stopMetricsServer(metricsServer)]);
  });
  // Metrics first: a service that cannot serve them (port taken) fails before its API ever answers a probe.
  if (config.METRICS_PORT !== undefined && app.hasDecorator('metrics')) {
    metricsServer = await startMetricsServer(
      app.metrics.registry,
      { host: config.METRICS_HOST ?? config.HOST, port: config.METRICS_PORT },
      app.log,
    );
  }
  await app.listen({ host: config.HOST, port: config.PORT });
  return app;
}
