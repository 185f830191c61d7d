// What the scenarios need in the database. Clients and applications are created with the services' own admin CLIs
// (the documented way, so secrets and policies are exactly what production gets); the bulk rows (users, sessions,
// refresh tokens) are inserted with SQL in the shape the services write them, because creating 70,000 sessions
// through the API would take longer than the benchmark itself.
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type KeySet, signJwt } from '@mxp/jwt-core';
import { hash as argon2Hash } from '@node-rs/argon2';
import type pg from 'pg';
import { paths } from './options.js';
import { runNode } from './processes.js';

/** argon2id cost of the login users: the service's production defaults (PASSWORD_HASH_*), OWASP's minimum. */
export const PASSWORD_HASH = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** `node apps/otherclient/dist/cli/admin.js clients create ... --json`, with the service's own environment. */
export async function createApiClient(
  env: Record<string, string>,
  scope: string,
): Promise<{ clientId: string; clientSecret: string }> {
  const cli = join(paths.repo, 'apps/otherclient/dist/cli/admin.js');
  const output = await runNode(cli, ['clients', 'create', '--name', 'bench', '--scopes', scope, '--json'], env).output;
  const created = JSON.parse(output) as { clientId: string; clientSecret: string };
  return { clientId: created.clientId, clientSecret: created.clientSecret };
}

/** `node apps/auth-service/dist/cli/admin.js apps create --name bench --json`: default policy (rotation on). */
export async function createApplication(env: Record<string, string>): Promise<string> {
  const cli = join(paths.repo, 'apps/auth-service/dist/cli/admin.js');
  const output = await runNode(cli, ['apps', 'create', '--name', 'bench', '--json'], env).output;
  return (JSON.parse(output) as { applicationId: string }).applicationId;
}

/** A UUIDv7 (time-ordered), the kind of id the services generate, so indexes see the same key order. */
export function uuidv7(): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(Date.now(), 0, 6);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x70;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** As the auth-service stores a refresh token (tokens.ts hashRefreshToken): SHA-256, base64url. */
export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}

/** Rows per INSERT: a few thousand keep each statement's arrays small and the whole seeding to seconds. */
const CHUNK = 5000;

async function inChunks<T>(items: readonly T[], insert: (chunk: readonly T[]) => Promise<unknown>): Promise<void> {
  for (let from = 0; from < items.length; from += CHUNK) await insert(items.slice(from, from + CHUNK));
}

/** Users who sign in during the login scenarios, with real argon2id hashes at the production cost. */
export async function seedLoginUsers(db: pg.Client, count: number): Promise<{ username: string; password: string }[]> {
  const users = Array.from({ length: count }, (_, index) => ({
    id: uuidv7(),
    username: `bench-login-${index}`,
    password: randomBytes(12).toString('base64url'),
  }));
  const hashes = await Promise.all(
    users.map((user) =>
      argon2Hash(user.password, { algorithm: 2 /* Argon2id (a const enum in its types) */, ...PASSWORD_HASH }),
    ),
  );
  await db.query(
    `INSERT INTO auth.users (id, username, password_hash, updated_at)
     SELECT id, username, hash, now() FROM unnest($1::text[], $2::text[], $3::text[]) AS t(id, username, hash)`,
    [users.map((user) => user.id), users.map((user) => user.username), hashes],
  );
  return users.map(({ username, password }) => ({ username, password }));
}

export interface SeededSession {
  id: string;
  userId: string;
  /** The raw refresh token, when one was seeded. */
  refreshToken?: string;
}

/**
 * Active sessions of `application`, one user each (the users cannot sign in: their hash is no argon2 hash), opened
 * now with the application's idle and absolute timeouts, optionally each with one live refresh token.
 */
export async function seedSessions(
  db: pg.Client,
  options: { applicationId: string; count: number; prefix: string; withRefreshTokens: boolean },
): Promise<SeededSession[]> {
  const sessions: SeededSession[] = Array.from({ length: options.count }, () => ({
    id: uuidv7(),
    userId: uuidv7(),
    ...(options.withRefreshTokens ? { refreshToken: randomBytes(32).toString('base64url') } : {}),
  }));
  await inChunks(sessions, (slice) =>
    db.query(
      `INSERT INTO auth.users (id, username, password_hash, updated_at)
       SELECT id, $2 || id, 'seeded: no password', now() FROM unnest($1::text[]) AS t(id)`,
      [slice.map((session) => session.userId), `${options.prefix}-`],
    ),
  );
  await inChunks(sessions, (slice) =>
    db.query(
      `INSERT INTO auth.sessions (id, user_id, application_id, created_at, last_seen_at, idle_expires_at,
                                  absolute_expires_at)
       SELECT t.id, t.user_id, a.id, now(), now(), now() + make_interval(secs => a.idle_timeout_seconds),
              now() + make_interval(secs => a.absolute_timeout_seconds)
       FROM unnest($1::text[], $2::text[]) AS t(id, user_id), auth.applications a WHERE a.id = $3`,
      [slice.map((session) => session.id), slice.map((session) => session.userId), options.applicationId],
    ),
  );
  if (options.withRefreshTokens) {
    await inChunks(sessions, (slice) =>
      db.query(
        `INSERT INTO auth.refresh_tokens (id, session_id, family_id, token_hash, created_at, expires_at)
         SELECT uuid, s.id, s.id, hash, now(), s.absolute_expires_at
         FROM unnest($1::text[], $2::text[], $3::text[]) AS t(uuid, session_id, hash)
         JOIN auth.sessions s ON s.id = t.session_id`,
        [
          slice.map(() => uuidv7()),
          slice.map((session) => session.id),
          slice.map((session) => hashRefreshToken(session.refreshToken ?? '')),
        ],
      ),
    );
  }
  return sessions;
}

/**
 * Access tokens for seeded sessions as the auth-service issues them (tokens.ts issueSessionAccessToken): ES256 with
 * the service's own key, `typ: at+jwt`, iss the service's JWT_ISSUER, aud and client_id the application, sub the
 * user, sid the session, a random jti (signJwt's default).
 */
export async function signAccessTokens(
  keySet: KeySet,
  issuer: string,
  applicationId: string,
  sessions: readonly SeededSession[],
  ttlSeconds: number,
): Promise<string[]> {
  return Promise.all(
    sessions.map(async (session) => {
      const { token } = await signJwt(
        keySet,
        { sid: session.id, client_id: applicationId },
        {
          typ: 'at+jwt',
          issuer,
          audience: applicationId,
          subject: session.userId,
          expiresInSeconds: ttlSeconds,
        },
      );
      return token;
    }),
  );
}
