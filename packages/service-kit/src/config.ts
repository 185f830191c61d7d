import { readFileSync } from 'node:fs';
import envSchema from 'env-schema';
import { type Static, type TObject, Type } from 'typebox';

/** Thrown at startup when an environment variable is missing or invalid; the message names each variable. */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** A string variable restricted to a list of values (reported as "must be one of ..." when wrong). */
export function OneOf<const Values extends readonly [string, ...string[]]>(
  values: Values,
  options: { default?: Values[number]; description?: string } = {},
) {
  return Type.Enum(values, options);
}

/** One web origin: scheme, host and optional port, nothing else (no path, query, credentials or wildcard). */
const ORIGIN = 'https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?';

/** Variables both services read. Each app adds its own (PORT first of all) and loads the union once at startup. */
export const BaseConfigProperties = {
  NODE_ENV: OneOf(['development', 'production', 'test'], { default: 'development' }),
  HOST: Type.String({ default: '127.0.0.1', minLength: 1, description: 'Address to listen on' }),
  LOG_LEVEL: OneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  DATABASE_URL: Type.String({ pattern: '^postgres(ql)?://', description: 'PostgreSQL connection string' }),
  DATABASE_POOL_MAX: Type.Integer({ minimum: 1, maximum: 200, default: 10 }),
  DATABASE_CONNECT_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60_000, default: 2000 }),
  DATABASE_QUERY_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
  TRUST_PROXY: Type.String({
    default: 'false',
    description: '`false`, `true`, a hop count, or comma-separated addresses/CIDRs of the proxies in front',
  }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, maximum: 10 * 1024 * 1024, default: 65_536 }),
  REDIS_URL: Type.Optional(
    Type.String({
      pattern: '^rediss?://',
      description: 'Redis for the rate-limit counters shared by the replicas; in memory per process when unset',
    }),
  ),
  CORS_ORIGINS: Type.Optional(
    Type.String({
      pattern: `^\\s*${ORIGIN}\\s*(,\\s*${ORIGIN}\\s*)*$`,
      description:
        'Comma-separated exact origins (scheme://host[:port]) allowed to call from a browser; CORS off when unset',
    }),
  ),
  DATA_DIR: Type.String({ default: '.data', description: 'Development only: generated keys and secrets' }),
};

/**
 * Validates `env` against `schema` once (defaults applied, numbers coerced); throws a {@link ConfigError} naming
 * every bad variable. Any variable `X` may instead be given as a file path in `X_FILE` (container secrets).
 */
export function loadConfig<Schema extends TObject>(
  schema: Schema,
  env: NodeJS.ProcessEnv = process.env,
): Static<Schema> {
  const definedOnly: Record<string, string> = {};
  for (const name of Object.keys(schema.properties)) {
    const value = env[name] || readSecretFile(name, env[`${name}_FILE`]);
    if (value) definedOnly[name] = value;
  }
  try {
    return envSchema<Static<Schema>>({ schema, data: definedOnly, env: false, dotenv: false });
  } catch (error) {
    const details = (error as { errors?: AjvError[] }).errors;
    if (!details) throw error;
    throw new ConfigError(describeProblems(schema, details));
  }
}

function readSecretFile(name: string, path: string | undefined): string | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw new ConfigError([`${name}_FILE cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
}

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

function describeProblems(schema: TObject, errors: AjvError[]): string[] {
  const problems = new Map<string, string>();
  for (const error of errors) {
    const variable =
      error.keyword === 'required' ? String(error.params.missingProperty) : error.instancePath.replace(/^\//, '');
    if (problems.has(variable)) continue;
    const allowed = (schema.properties[variable] as { enum?: string[] } | undefined)?.enum;
    const problem =
      error.keyword === 'required'
        ? `${variable} is required`
        : error.keyword === 'enum' && allowed
          ? `${variable} must be one of ${allowed.join(', ')}`
          : `${variable} ${error.message ?? 'is invalid'}`;
    problems.set(variable, problem);
  }
  return [...problems.values()];
}
