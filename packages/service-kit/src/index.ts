export { type ApiDocsOptions, apiDocs, plainSchema } from './api-docs.js';
export { BackoffConfigProperties, backoffPolicyOf } from './backoff-config.js';
export { bearerTokenFrom } from './bearer-token.js';
export { startAppChangeFeed } from './change-feed.js';
export { BaseConfigProperties, ConfigError, loadConfig, OneOf } from './config.js';
export { type DbPluginOptions, dbPlugin, pingDatabase } from './db-plugin.js';
export { loadOrCreateDevSecret } from './dev-secrets.js';
export { type ErrorHandlerOptions, errorHandler } from './error-handler.js';
export { baseFastifyOptions } from './fastify-options.js';
export { gracefulClose } from './graceful-close.js';
export { healthRoutes } from './health-routes.js';
export { errorEnvelope, HttpError } from './http-error.js';
export { jwksRoutes } from './jwks-routes.js';
export { loggerOptions, REDACTED_PATHS, requestIdFrom, trustProxyOption, urlForLog } from './logger.js';
export {
  MetricsConfigProperties,
  type MetricsPluginOptions,
  metricsPlugin,
  type ServiceMetrics,
  startMetricsServer,
  stopMetricsServer,
} from './metrics.js';
export {
  RateLimitConfigProperties,
  type RateLimitPluginOptions,
  rateLimitOptions,
  rateLimitPlugin,
} from './rate-limit.js';
export { requestGuards } from './request-guards.js';
export { requestLogging } from './request-logging.js';
export { RetentionConfigProperties } from './retention-config.js';
export { helmetHeaders, type SecurityPluginOptions, securityOptions, securityPlugin } from './security.js';
export { startService } from './server.js';
export { issuerOf, loadSigningKeys, SigningKeyConfigProperties, signingKeysPlugin } from './signing-keys.js';
export { describeMissingBody, describeValidationErrors, validatorCompiler } from './validation.js';
