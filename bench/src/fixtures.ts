// The database, keys, service configuration and seeded data that the scenarios share.
import { randomBytes } from 'node:crypto';
import { generateSigningKey, importKeySet, type KeySet, type PrivateJwk } from '@mxp/jwt-core';
import { connect, freshDatabase } from './database.js';
import type { BenchOptions, StepName } from './options.js';
import { baseEnv } from './processes.js';
import {
  createApiClient,
  createApplication,
  type SeededSession,
  seedLoginUsers,
  seedSessions,
  signAccessTokens,
} from './seed.js';

/** Distinct live sessions whose access tokens the validate scenarios rotate over. */
export const VALIDATE_SESSIONS = 10_000;
/**
 * Sessions with one unspent refresh token each: every refresh request spends one (rotation is on), so there are
 * enough for 5,000 refreshes a second (twice the target) over the warm-up and the measured window: 60,000 by default.
 */
export function refreshSessionCount(options: BenchOptions): number {
  return Math.ceil((options.warmupSeconds + options.durationSeconds) * 5000);
}
/** Users who sign in with a password during the login scenarios. */
export const LOGIN_USERS = 50;
/** The one scope of the otherclient client and of the peer's client. */
export const SCOPE = 'orders:read';

const OTHERCLIENT_ISSUER = 'https://otherclient.bench.invalid';
const AUTH_ISSUER = 'https://auth.bench.invalid';

/**
 * Only the rate limits are raised (through their documented variables) so that one load-generating address is not
 * throttled; everything else is production configuration. No REDIS_URL: counters stay in each process's memory.
 */
const RAISED_RATE_LIMITS = {
  RATE_LIMIT_GLOBAL_PER_MINUTE: '100000000',
  RATE_LIMIT_CREDENTIALS_PER_MINUTE: '100000000',
  RATE_LIMIT_VALIDATE_PER_TOKEN_PER_MINUTE: '100000000',
};

export interface Fixtures {
  postgresVersion: string;
  otherclientEnv: Record<string, string>;
  authEnv: Record<string, string>;
  apiClient: { clientId: string; clientSecret: string } | undefined;
  applicationId: string | undefined;
  loginUsers: { username: string; password: string }[];
  /**
   * Access tokens of distinct live sessions, signed as the auth-service signs them; signed when asked, so that they
   * are fresh (15 min) however long the steps before take.
   */
  signValidateTokens: () => Promise<string[]>;
  refreshTokens: string[];
  /** The private JWK Set of the peer (its own key, ES256). */
  peerJwks: { keys: PrivateJwk[] };
}

async function privateKeySet(): Promise<{ jwks: string; keySet: KeySet; keys: PrivateJwk[] }> {
  const keys = [await generateSigningKey('ES256')];
  const jwks = JSON.stringify({ keys });
  return { jwks, keySet: await importKeySet({ jwks }), keys };
}

function needs(only: ReadonlySet<StepName>, ...steps: StepName[]): boolean {
  return steps.some((step) => only.has(step));
}

/** Creates the database and everything the selected steps need; logs each stage on stderr. */
export async function prepareFixtures(options: BenchOptions, log: (line: string) => void): Promise<Fixtures> {
  const database = await freshDatabase(options.databaseUrl, options.databaseName);
  log(`database ${options.databaseName} created and migrated (PostgreSQL ${database.version})`);

  const common = {
    ...baseEnv(),
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    DATABASE_URL: database.url,
    ...RAISED_RATE_LIMITS,
  };
  const otherclientKeys = await privateKeySet();
  const authKeys = await privateKeySet();
  const otherclientEnv = {
    ...common,
    JWT_PRIVATE_JWKS: otherclientKeys.jwks,
    JWT_ISSUER: OTHERCLIENT_ISSUER,
    CLIENT_SECRET_PEPPER: randomBytes(32).toString('base64url'),
  };
  const authEnv = { ...common, JWT_PRIVATE_JWKS: authKeys.jwks, JWT_ISSUER: AUTH_ISSUER };

  const usesOtherclient = needs(options.only, 'api-token', 'oauth-token', 'oauth-introspect');
  const usesAuth = needs(options.only, 'validate', 'refresh', 'login', 'validate-under-login', 'revocation');
  const [apiClient, applicationId] = await Promise.all([
    usesOtherclient ? createApiClient(otherclientEnv, SCOPE) : undefined,
    usesAuth ? createApplication(authEnv) : undefined,
  ]);

  const fixtures: Fixtures = {
    postgresVersion: database.version,
    otherclientEnv,
    authEnv,
    apiClient,
    applicationId,
    loginUsers: [],
    signValidateTokens: async () => [],
    refreshTokens: [],
    peerJwks: { keys: (await privateKeySet()).keys },
  };
  if (applicationId === undefined) return fixtures;

  const db = await connect(database.url);
  try {
    if (needs(options.only, 'login', 'validate-under-login', 'revocation')) {
      fixtures.loginUsers = await seedLoginUsers(db, LOGIN_USERS);
      log(`${LOGIN_USERS} users with argon2id hashes (m=19456, t=2, p=1)`);
    }
    if (needs(options.only, 'validate', 'validate-under-login')) {
      const sessions = await seedSessions(db, {
        applicationId,
        count: VALIDATE_SESSIONS,
        prefix: 'bench-validate',
        withRefreshTokens: false,
      });
      const [{ access_token_ttl_seconds: ttl } = { access_token_ttl_seconds: 900 }] = (
        await db.query<{ access_token_ttl_seconds: number }>(
          'SELECT access_token_ttl_seconds FROM auth.applications WHERE id = $1',
          [applicationId],
        )
      ).rows;
      fixtures.signValidateTokens = () => signAccessTokens(authKeys.keySet, AUTH_ISSUER, applicationId, sessions, ttl);
      log(`${VALIDATE_SESSIONS} live sessions`);
    }
    if (needs(options.only, 'refresh')) {
      const count = refreshSessionCount(options);
      const sessions: SeededSession[] = await seedSessions(db, {
        applicationId,
        count,
        prefix: 'bench-refresh',
        withRefreshTokens: true,
      });
      fixtures.refreshTokens = sessions.map((session) => session.refreshToken ?? '');
      log(`${count} live sessions with one unspent refresh token each`);
    }
    // Vacuumed, analyzed and checkpointed now, as on a database that grew over time: otherwise autovacuum (set off by
    // the bulk inserts) and the checkpoint run during the first measurements and take their CPU.
    await db.query('VACUUM (ANALYZE)');
    await db.query('CHECKPOINT');
  } finally {
    await db.end();
  }
  return fixtures;
}
