import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  baseFastifyOptions,
  dbPlugin,
  errorHandler,
  healthRoutes,
  jwksRoutes,
  loadSigningKeys,
  requestIdHeader,
  signingKeysPlugin,
} from '@mxp/service-kit';
import Fastify, { type FastifyServerOptions } from 'fastify';
import type { OtherclientConfig } from './config.js';

/** Builds the otherclient service (plugins, then routes) without listening; tests drive it with `app.inject`. */
export async function buildApp(config: OtherclientConfig, overrides: Partial<FastifyServerOptions> = {}) {
  const app = Fastify({
    ...baseFastifyOptions(config, 'otherclient'),
    ...overrides,
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(requestIdHeader);
  await app.register(errorHandler);
  await app.register(dbPlugin, {
    databaseUrl: config.DATABASE_URL,
    poolMax: config.DATABASE_POOL_MAX,
    connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
  });
  await app.register(signingKeysPlugin, { keySet: await loadSigningKeys(config, 'otherclient') });

  await app.register(healthRoutes, { prefix: '/api/auth' });
  await app.register(jwksRoutes);
  await app.register(jwksRoutes, { prefix: '/api/auth' });

  return app;
}

export type OtherclientApp = Awaited<ReturnType<typeof buildApp>>;
