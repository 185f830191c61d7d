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
import type { AuthServiceConfig } from './config.js';

/** Builds the auth-service service (plugins, then routes) without listening; tests drive it with `app.inject`. */
export async function buildApp(config: AuthServiceConfig, overrides: Partial<FastifyServerOptions> = {}) {
  const app = Fastify({
    ...baseFastifyOptions(config, 'auth-service'),
    ...overrides,
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(requestIdHeader);
  await app.register(errorHandler);
  await app.register(dbPlugin, {
    databaseUrl: config.DATABASE_URL,
    poolMax: config.DATABASE_POOL_MAX,
    connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
  });
  await app.register(signingKeysPlugin, { keySet: await loadSigningKeys(config, 'auth-service') });

  await app.register(healthRoutes, { prefix: '/auth' });
  await app.register(jwksRoutes, { prefix: '/auth' });

  return app;
}

export type AuthServiceApp = Awaited<ReturnType<typeof buildApp>>;
