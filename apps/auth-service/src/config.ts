import {
  BackoffConfigProperties,
  BaseConfigProperties,
  loadConfig,
  MetricsConfigProperties,
  RateLimitConfigProperties,
  RetentionConfigProperties,
  SigningKeyConfigProperties,
} from '@mxp/service-kit';
import { type Static, Type } from 'typebox';

/** Every environment variable the auth-service reads (see the README's configuration table). */
export const AuthServiceConfigSchema = Type.Object({
  ...BaseConfigProperties,
  ...MetricsConfigProperties,
  ...SigningKeyConfigProperties,
  ...RateLimitConfigProperties,
  PORT: Type.Integer({ minimum: 0, maximum: 65_535, default: 3002 }),
  // OWASP's minimum for argon2id (m=19 MiB, t=2, p=1); measured ~29 ms per verify on 2 vCPU (toolchain.md).
  PASSWORD_HASH_MEMORY_KIB: Type.Integer({ minimum: 1024, maximum: 4_194_304, default: 19_456 }),
  PASSWORD_HASH_ITERATIONS: Type.Integer({ minimum: 1, maximum: 20, default: 2 }),
  PASSWORD_HASH_PARALLELISM: Type.Integer({ minimum: 1, maximum: 16, default: 1 }),
  // Hashing threads (each hashes one password at a time, 19 MiB each at the default cost). 0: one per CPU the process
  // may run on, which in a container with a CPU quota can be far more than its share: set it to the quota there.
  PASSWORD_HASH_THREADS: Type.Integer({ minimum: 0, maximum: 64, default: 0 }),
  REFRESH_REUSE_GRACE_SECONDS: Type.Integer({
    minimum: 0,
    maximum: 300,
    default: 10,
    description: 'A rotated-out refresh token presented again within this time is refused without ending the session',
  }),
  DEVICE_INFO_MAX_BYTES: Type.Integer({ minimum: 256, maximum: 65_536, default: 4096 }),
  // Measured on the production build: ~370 bytes of heap per cached session and ~330 per verified token (README).
  SESSION_CACHE_MAX_ENTRIES: Type.Integer({
    minimum: 0,
    maximum: 2_000_000,
    default: 50_000,
    description: 'Active sessions kept in memory for validation; 0 turns the session cache (and its LISTEN) off',
  }),
  SESSION_CACHE_MAX_AGE_MS: Type.Integer({ minimum: 1000, maximum: 86_400_000, default: 300_000 }),
  SESSION_CACHE_MAX_STALENESS_MS: Type.Integer({
    minimum: 300,
    maximum: 60_000,
    default: 1000,
    description: 'Longest a cached session may go unconfirmed by the change feed before validation reads the database',
  }),
  DATABASE_LISTEN_URL: Type.Optional(
    Type.String({
      pattern: '^postgres(ql)?://',
      description: 'Direct connection for LISTEN when DATABASE_URL goes through a transaction-pooling proxy',
    }),
  ),
  ACTIVE_SESSIONS_METRIC_INTERVAL_MS: Type.Integer({
    minimum: 0,
    maximum: 3_600_000,
    default: 15_000,
    description:
      'Shortest time between two counts of the active sessions for the metrics (each count reads the database)',
  }),
  VERIFIED_TOKEN_CACHE_MAX_ENTRIES: Type.Integer({ minimum: 0, maximum: 2_000_000, default: 50_000 }),
  ...BackoffConfigProperties,
  ...RetentionConfigProperties,
});
export type AuthServiceConfig = Static<typeof AuthServiceConfigSchema>;

/** Reads and validates the configuration once, at startup. */
export function loadAuthServiceConfig(env: NodeJS.ProcessEnv = process.env): AuthServiceConfig {
  return loadConfig(AuthServiceConfigSchema, env);
}

/** The argon2id parameters of the configuration. */
export function passwordHashParams(config: AuthServiceConfig) {
  return {
    memoryKib: config.PASSWORD_HASH_MEMORY_KIB,
    iterations: config.PASSWORD_HASH_ITERATIONS,
    parallelism: config.PASSWORD_HASH_PARALLELISM,
  };
}
