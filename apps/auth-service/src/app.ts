import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  apiDocs,
  baseFastifyOptions,
  dbPlugin,
  errorHandler,
  gracefulClose,
  healthRoutes,
  issuerOf,
  jwksRoutes,
  loadSigningKeys,
  metricsPlugin,
  rateLimitOptions,
  rateLimitPlugin,
  requestGuards,
  requestLogging,
  securityOptions,
  securityPlugin,
  signingKeysPlugin,
} from '@mxp/service-kit';
import Fastify, { type FastifyServerOptions } from 'fastify';
import { type AuthServiceConfig, passwordHashParams } from './config.js';
import { authPlugin } from './plugins/auth.js';
import { authMetricsPlugin } from './plugins/metrics.js';
import { sessionCachePlugin } from './plugins/session-cache.js';
import { auditRoutes } from './routes/audit/index.js';
import { credentialsRoutes } from './routes/credentials/index.js';
import { sessionRoutes } from './routes/sessions/index.js';
import { tokenRoutes } from './routes/tokens/index.js';
import { backoffPolicy } from './services/backoff.js';
import { passwordHashingMode, unmatchablePasswordHash } from './services/passwords.js';

/** Builds the auth-service (plugins, then routes) without listening; tests drive it with `app.inject`. */
export async function buildApp(config: AuthServiceConfig, overrides: Partial<FastifyServerOptions> = {}) {
  const app = Fastify({
    ...baseFastifyOptions(config, 'auth-service'),
    ...overrides,
  }).withTypeProvider<TypeBoxTypeProvider>();

  const issuer = issuerOf(config);
  const hashParams = passwordHashParams(config);
  // The hashing threads boot (a V8 isolate each, on the other cores) while the plugins below load: readiness waits
  // for the longer of the two, not their sum.
  const hashing = passwordHashingMode(config.PASSWORD_HASH_THREADS || undefined);

  await app.register(requestLogging);
  await app.register(gracefulClose);
  // Before the rate limit, which counts its refusals in it; its request hook then covers every route.
  await app.register(metricsPlugin, { service: 'auth-service' });
  // Production skips checking the route schemas against the meta-schema: every test run checks the same schemas.
  await app.register(errorHandler, { checkSchemas: config.NODE_ENV !== 'production' });
  await app.register(requestGuards);
  await app.register(securityPlugin, securityOptions(config));
  await app.register(rateLimitPlugin, rateLimitOptions(config, 'auth-service'));
  // Before the routes: the document is collected from them as they are added.
  await app.register(apiDocs, {
    title: 'MAXPOINT auth-service',
    version: '1.0.0',
    description:
      'Single sign-on: credentials, sessions per application and device, access and refresh tokens, and the ' +
      'authentication history. Routes marked with a lock take `Authorization: Bearer <access_token>`.',
    prefixes: ['/auth'],
    tags: [
      { name: 'Credentials', description: 'Check credentials, sign in and out' },
      { name: 'Tokens', description: 'Refresh and validate tokens' },
      { name: 'Sessions', description: "The caller's sessions" },
      { name: 'Audit', description: 'Authentication attempts and history' },
      { name: 'Discovery', description: 'Signing keys' },
      { name: 'Operations', description: 'Probes' },
    ],
    // The session routes' preHandler, and the gateways' check, which reads the token itself.
    takesBearer: (url, route) =>
      url === '/auth/token/validate' || [route.preHandler].flat().includes(app.requireSession),
    tagOf: (url) =>
      url.includes('/.well-known/')
        ? 'Discovery'
        : url.endsWith('/health')
          ? 'Operations'
          : url.startsWith('/auth/token/')
            ? 'Tokens'
            : url.startsWith('/auth/session')
              ? 'Sessions'
              : url === '/auth/attempts' || url === '/auth/logs'
                ? 'Audit'
                : ['/auth/verify', '/auth/login', '/auth/logout'].includes(url)
                  ? 'Credentials'
                  : undefined,
  });
  await app.register(dbPlugin, {
    databaseUrl: config.DATABASE_URL,
    poolMax: config.DATABASE_POOL_MAX,
    connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
    queryTimeoutMs: config.DATABASE_QUERY_TIMEOUT_MS,
  });
  await app.register(signingKeysPlugin, { keySet: await loadSigningKeys(config, 'auth-service') });
  await app.register(sessionCachePlugin, {
    listenUrl: config.DATABASE_LISTEN_URL ?? config.DATABASE_URL,
    maxEntries: config.SESSION_CACHE_MAX_ENTRIES,
    maxAgeMs: config.SESSION_CACHE_MAX_AGE_MS,
    maxStalenessMs: config.SESSION_CACHE_MAX_STALENESS_MS,
    verifiedTokenMaxEntries: config.VERIFIED_TOKEN_CACHE_MAX_ENTRIES,
  });
  await app.register(authPlugin, { issuer });
  await app.register(authMetricsPlugin, { activeSessionsRecountMs: config.ACTIVE_SESSIONS_METRIC_INTERVAL_MS });

  // Once the hashing threads are up: says where hashes run (low-priority threads, or libuv's pool as a fallback and why).
  app.log.info({ passwordHashing: await hashing }, 'password hashing');

  const prefix = '/auth';
  const credentialsPerMinute = config.RATE_LIMIT_CREDENTIALS_PER_MINUTE;
  await app.register(healthRoutes, { prefix });
  await app.register(jwksRoutes, { prefix });
  await app.register(credentialsRoutes, {
    prefix,
    issuer,
    passwordHashParams: hashParams,
    // Verified against when the user does not exist, so that case costs what a wrong password costs.
    dummyPasswordHash: unmatchablePasswordHash(hashParams),
    deviceInfoMaxBytes: config.DEVICE_INFO_MAX_BYTES,
    credentialsPerMinute,
    backoff: backoffPolicy(config),
  });
  await app.register(tokenRoutes, {
    prefix,
    issuer,
    reuseGraceSeconds: config.REFRESH_REUSE_GRACE_SECONDS,
    credentialsPerMinute,
  });
  await app.register(sessionRoutes, { prefix });
  await app.register(auditRoutes, { prefix, deviceInfoMaxBytes: config.DEVICE_INFO_MAX_BYTES, credentialsPerMinute });

  return app;
}

export type AuthServiceApp = Awaited<ReturnType<typeof buildApp>>;
