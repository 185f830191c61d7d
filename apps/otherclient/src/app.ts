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
import type { OtherclientConfig } from './config.js';
import { clientCachePlugin } from './plugins/client-cache.js';
import { tokenMetricsPlugin } from './plugins/metrics.js';
import { tokenAuditPlugin } from './plugins/token-audit.js';
import { verifiedTokensPlugin } from './plugins/verified-tokens.js';
import { oauthRoutes } from './routes/oauth/index.js';
import { tokenRoutes } from './routes/token/index.js';
import { wellKnownRoutes } from './routes/well-known/index.js';
import { backoffPolicy } from './services/backoff.js';

/** Builds the otherclient service (plugins, then routes) without listening; tests drive it with `app.inject`. */
export async function buildApp(config: OtherclientConfig, overrides: Partial<FastifyServerOptions> = {}) {
  const app = Fastify({
    ...baseFastifyOptions(config, 'otherclient'),
    ...overrides,
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(requestLogging);
  await app.register(gracefulClose);
  // Before the rate limit, which counts its refusals in it; its request hook then covers every route.
  await app.register(metricsPlugin, { service: 'otherclient' });
  // The OtherClient specification answers every malformed request with 400, wrong media type and size included.
  // Production skips checking the route schemas against the meta-schema: every test run checks the same schemas.
  await app.register(errorHandler, {
    statusOverrides: { UNSUPPORTED_MEDIA_TYPE: 400, PAYLOAD_TOO_LARGE: 400 },
    checkSchemas: config.NODE_ENV !== 'production',
  });
  await app.register(requestGuards);
  await app.register(securityPlugin, securityOptions(config));
  await app.register(rateLimitPlugin, rateLimitOptions(config, 'otherclient'));
  // Before the routes: the document is collected from them as they are added.
  await app.register(apiDocs, {
    title: 'MAXPOINT otherclient',
    version: '1.0.0',
    description:
      'Access tokens for external integrators (`POST /api/auth/token`), OAuth 2.0 client credentials, introspection ' +
      'and revocation, and the keys and metadata to verify the tokens locally.',
    prefixes: ['/api/auth'],
    tags: [
      { name: 'API token', description: 'The OtherClient API: clientId and clientSecret for a JWT' },
      { name: 'OAuth 2.0', description: 'Standard OAuth 2.0 endpoints (form-encoded, RFC 6749 errors)' },
      { name: 'Discovery', description: 'Signing keys and authorization server metadata' },
      { name: 'Operations', description: 'Probes' },
    ],
    takesBearer: (url) => url === '/api/auth/token/info',
    tagOf: (url) =>
      url.includes('/.well-known/')
        ? 'Discovery'
        : url.endsWith('/health')
          ? 'Operations'
          : url.startsWith('/oauth/')
            ? 'OAuth 2.0'
            : url.startsWith('/api/auth/token')
              ? 'API token'
              : undefined,
  });
  await app.register(dbPlugin, {
    databaseUrl: config.DATABASE_URL,
    poolMax: config.DATABASE_POOL_MAX,
    connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
    queryTimeoutMs: config.DATABASE_QUERY_TIMEOUT_MS,
  });
  await app.register(signingKeysPlugin, { keySet: await loadSigningKeys(config, 'otherclient') });
  await app.register(clientCachePlugin, {
    databaseUrl: config.DATABASE_URL,
    maxEntries: config.CLIENT_CACHE_MAX_ENTRIES,
    revocationMaxEntries: config.VERIFIED_TOKEN_CACHE_MAX_ENTRIES,
    connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
  });
  await app.register(verifiedTokensPlugin, { maxEntries: config.VERIFIED_TOKEN_CACHE_MAX_ENTRIES });
  await app.register(tokenAuditPlugin, {
    maxBufferedRows: config.TOKEN_AUDIT_BUFFER_MAX_ROWS,
    observe: (record) => app.tokenMetrics.observe(record),
  });
  await app.register(tokenMetricsPlugin);

  const issuer = issuerOf(config);
  const settings = { issuer, defaultAudience: config.TOKEN_DEFAULT_AUDIENCE };
  const tokenOptions = {
    settings,
    tokenInspection: {
      db: app.db,
      keySet: app.signingKeys,
      settings,
      clients: app.clientCache,
      verifiedTokens: app.verifiedTokens,
      revocations: app.revocations,
    },
    pepper: config.CLIENT_SECRET_PEPPER,
    credentialsPerMinute: config.RATE_LIMIT_CREDENTIALS_PER_MINUTE,
    backoff: backoffPolicy(config),
  };
  await app.register(healthRoutes, { prefix: '/api/auth' });
  await app.register(tokenRoutes, { ...tokenOptions, prefix: '/api/auth' });
  await app.register(oauthRoutes, { ...tokenOptions, prefix: '/oauth' });
  await app.register(wellKnownRoutes, { issuer });
  // JWKS at the root for discovery (RFC 8414 `jwks_uri`) and under /api/auth/ for the ingress.
  await app.register(jwksRoutes);
  await app.register(jwksRoutes, { prefix: '/api/auth' });

  return app;
}

export type OtherclientApp = Awaited<ReturnType<typeof buildApp>>;
