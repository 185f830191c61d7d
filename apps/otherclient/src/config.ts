import {
  BackoffConfigProperties,
  BaseConfigProperties,
  ConfigError,
  loadConfig,
  loadOrCreateDevSecret,
  MetricsConfigProperties,
  RateLimitConfigProperties,
  RetentionConfigProperties,
  SigningKeyConfigProperties,
} from '@mxp/service-kit';
import { type Static, Type } from 'typebox';

/** Every environment variable the otherclient service reads (see the README's configuration table). */
export const OtherclientConfigSchema = Type.Object({
  ...BaseConfigProperties,
  ...MetricsConfigProperties,
  ...SigningKeyConfigProperties,
  ...RateLimitConfigProperties,
  TOKEN_DEFAULT_AUDIENCE: Type.String({
    minLength: 1,
    default: 'maxpoint-api',
    description: '`aud` of tokens for clients without an audience of their own',
  }),
  SECRET_ROTATION_GRACE_SECONDS: Type.Integer({
    minimum: 0,
    maximum: 2_592_000,
    default: 86_400,
    description: 'How long a rotated-out client secret keeps working',
  }),
  PORT: Type.Integer({ minimum: 0, maximum: 65_535, default: 3001 }),
  CLIENT_CACHE_MAX_ENTRIES: Type.Integer({
    minimum: 0,
    maximum: 1_000_000,
    default: 10_000,
    description:
      'Clients kept in memory for authentication, kept exact by PostgreSQL notifications; 0 turns the cache off',
  }),
  VERIFIED_TOKEN_CACHE_MAX_ENTRIES: Type.Integer({
    minimum: 0,
    maximum: 2_000_000,
    default: 50_000,
    description:
      'Access tokens whose signature introspection and token info verified, remembered until their exp, and tokens whose ' +
      'revocation state is cached (with the client cache); 0 verifies and reads every time',
  }),
  TOKEN_AUDIT_BUFFER_MAX_ROWS: Type.Integer({
    minimum: 1_000,
    maximum: 1_000_000,
    default: 50_000,
    description: 'Token audit rows held in memory while the database does not take them; more are dropped and logged',
  }),
  ...BackoffConfigProperties,
  ...RetentionConfigProperties,
  CLIENT_SECRET_PEPPER: Type.Optional(
    Type.String({ minLength: 32, description: 'Server-side key of the client secret hashes (required in production)' }),
  ),
});
export type OtherclientConfig = Static<typeof OtherclientConfigSchema> & { CLIENT_SECRET_PEPPER: string };

/** Reads and validates the configuration once, at startup; development generates its pepper in DATA_DIR. */
export function loadOtherclientConfig(env: NodeJS.ProcessEnv = process.env): OtherclientConfig {
  const config = loadConfig(OtherclientConfigSchema, env);
  if (config.CLIENT_SECRET_PEPPER) return { ...config, CLIENT_SECRET_PEPPER: config.CLIENT_SECRET_PEPPER };
  if (config.NODE_ENV === 'production') throw new ConfigError(['CLIENT_SECRET_PEPPER is required in production']);
  return { ...config, CLIENT_SECRET_PEPPER: loadOrCreateDevSecret(config.DATA_DIR, 'otherclient-secret-pepper') };
}
