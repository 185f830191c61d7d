// Shared helpers of the route and plugin tests (not a test file itself: vitest only runs `*.test.ts`).
import { createPublicKey, type JsonWebKey, verify as verifySignature } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Application, Prisma, PrismaClient } from '@mxp/db';
import { generateSigningKey, importKeySet, type KeySet, signJwt } from '@mxp/jwt-core';
import type { LightMyRequestResponse } from 'fastify';
import { expect, vi } from 'vitest';
import { hashPassword, type PasswordHashParams } from '../../src/services/passwords.js';
import { startTestApp } from '../helpers.js';

export type TestApp = Awaited<ReturnType<typeof startTestApp>>;

/** The cheap argon2id parameters of the tests (the configuration of `testEnv`). */
export const CHEAP_HASH: PasswordHashParams = { memoryKib: 1024, iterations: 1, parallelism: 1 };

/** A throwaway directory for the development signing keys. */
export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'mxp-auth-routes-'));
}

/**
 * The app on its own database, with development keys generated in a throwaway directory and a credentials rate
 * limit high enough that a test file never hits it.
 */
export function startApp(env: NodeJS.ProcessEnv = {}): Promise<TestApp> {
  return startTestApp({ DATA_DIR: tempDataDir(), RATE_LIMIT_CREDENTIALS_PER_MINUTE: '100000', ...env });
}

let counter = 0;
/** A name never used before in this process (usernames, application names). */
export function unique(prefix: string): string {
  counter += 1;
  return `${prefix}${counter}${Math.random().toString(36).slice(2, 8)}`;
}

export interface TestUser {
  id: string;
  username: string;
  email: string;
  password: string;
}

/** A user created directly in the database (password hashed with the cheap test parameters). */
export async function createUser(
  db: PrismaClient,
  input: { password?: string; status?: 'active' | 'disabled'; params?: PasswordHashParams } = {},
): Promise<TestUser> {
  const username = unique('user');
  const email = `${username}@example.com`;
  const password = input.password ?? `pw-${unique('secret')}`;
  const user = await db.user.create({
    data: {
      username,
      email,
      passwordHash: await hashPassword(password, input.params ?? CHEAP_HASH),
      status: input.status ?? 'active',
    },
  });
  return { id: user.id, username, email, password };
}

/** An application created directly in the database (defaults of the schema unless overridden). */
export function createApplication(
  db: PrismaClient,
  data: Partial<Prisma.ApplicationCreateInput> = {},
): Promise<Application> {
  return db.application.create({ data: { name: unique('app'), ...data } });
}

export interface LoginResult {
  access_token: string;
  refresh_token: string;
  session_id: string;
  expires_at: string;
  token_type: string;
  expires_in: number;
}

/** `POST /auth/login` that must succeed; returns its body. */
export async function login(
  testApp: TestApp,
  user: TestUser,
  applicationId: string,
  extra: { device_info?: Record<string, unknown>; headers?: Record<string, string>; remoteAddress?: string } = {},
): Promise<LoginResult> {
  const response = await testApp.app.inject({
    method: 'POST',
    url: '/auth/login',
    headers: extra.headers,
    remoteAddress: extra.remoteAddress,
    payload: {
      username: user.username,
      password: user.password,
      application_id: applicationId,
      ...(extra.device_info ? { device_info: extra.device_info } : {}),
    },
  });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<LoginResult>();
}

/** `Authorization: Bearer <token>`. */
export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/** `POST /auth/token/validate` with the token. */
export function validate(testApp: TestApp, token: string) {
  return testApp.app.inject({ method: 'POST', url: '/auth/token/validate', headers: bearer(token) });
}

/** `POST /auth/token/refresh` with the refresh token. */
export function refresh(testApp: TestApp, refreshToken: string) {
  return testApp.app.inject({ method: 'POST', url: '/auth/token/refresh', payload: { refresh_token: refreshToken } });
}

/** The error envelope, exactly (`errors` aside, which is only checked to be a list of strings when present). */
export function expectEnvelope(response: LightMyRequestResponse, status: number, message?: string): void {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  const body = response.json<Record<string, unknown>>();
  expect(body).toMatchObject({ code: status, status: 'error', message: expect.any(String) });
  if (message !== undefined) expect(body.message).toBe(message);
  if ('errors' in body) {
    expect(Array.isArray(body.errors)).toBe(true);
    for (const entry of body.errors as unknown[]) expect(entry).toBeTypeOf('string');
  }
  const allowed = new Set(['code', 'status', 'message', 'errors', 'valid']);
  for (const key of Object.keys(body)) expect(allowed.has(key), `unexpected member ${key}`).toBe(true);
}

export const INVALID_CREDENTIALS = 'Credenciales inválidas';

/** Runs `fn` with `Date` frozen at `at` (timers and the event loop stay real), then restores the real clock. */
export async function atTime<T>(at: Date | number, fn: () => Promise<T>): Promise<T> {
  vi.useFakeTimers({ now: at, toFake: ['Date'] });
  try {
    return await fn();
  } finally {
    vi.useRealTimers();
  }
}

/** The JSON of a base64url segment. */
export function decodeSegment<T = Record<string, unknown>>(segment: string | undefined): T {
  return JSON.parse(Buffer.from(segment ?? '', 'base64url').toString('utf8')) as T;
}

/** Base64url of a JSON value, to hand-craft token parts. */
export function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

interface PublishedJwk {
  kid: string;
  kty: string;
  alg?: string;
  [member: string]: unknown;
}

/**
 * Verifies a compact JWS with nothing but the JSON served at `GET /auth/.well-known/jwks.json` and `node:crypto`
 * (independent of the service's own JWT code); returns its header and claims, or throws.
 */
export async function verifyWithServedJwks(
  testApp: TestApp,
  token: string,
): Promise<{ header: Record<string, unknown>; claims: Record<string, unknown> }> {
  const response = await testApp.app.inject({ method: 'GET', url: '/auth/.well-known/jwks.json' });
  if (response.statusCode !== 200) throw new Error(`JWKS answered ${response.statusCode}`);
  const { keys } = response.json<{ keys: PublishedJwk[] }>();
  const [headerPart, payloadPart, signaturePart, ...rest] = token.split('.');
  if (rest.length > 0 || !headerPart || !payloadPart || !signaturePart) throw new Error('not a compact JWS');
  const header = decodeSegment(headerPart);
  const jwk = keys.find((key) => key.kid === header.kid);
  if (!jwk) throw new Error(`no published key with kid ${String(header.kid)}`);
  for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) {
    if (member in jwk) throw new Error(`the JWKS publishes the private member ${member}`);
  }
  const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  const data = Buffer.from(`${headerPart}.${payloadPart}`);
  const signature = Buffer.from(signaturePart, 'base64url');
  let ok: boolean;
  switch (header.alg) {
    case 'ES256':
      ok = verifySignature('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
      break;
    case 'RS256':
      ok = verifySignature('sha256', data, key, signature);
      break;
    case 'EdDSA':
      ok = verifySignature(null, data, key, signature);
      break;
    default:
      throw new Error(`unexpected alg ${String(header.alg)}`);
  }
  if (!ok) throw new Error('bad signature');
  if (jwk.alg !== undefined && jwk.alg !== header.alg) throw new Error('alg of the header and of the key differ');
  return { header, claims: decodeSegment(payloadPart) };
}

/** The issuer of the test app's tokens (HOST and PORT defaults). */
export const ISSUER = 'http://127.0.0.1:3002';

/** A token shaped like the service's access tokens, signed with `keySet` (the service's own or another one). */
export async function signAccessToken(
  keySet: KeySet,
  claims: { sessionId: string; userId: string; applicationId: string },
  options: { issuer?: string; typ?: string; now?: Date; ttlSeconds?: number } = {},
): Promise<string> {
  const { token } = await signJwt(
    keySet,
    { sid: claims.sessionId, client_id: claims.applicationId },
    {
      typ: options.typ ?? 'at+jwt',
      issuer: options.issuer ?? ISSUER,
      audience: claims.applicationId,
      subject: claims.userId,
      expiresInSeconds: options.ttlSeconds ?? 900,
      now: options.now ?? new Date(),
    },
  );
  return token;
}

/** A key set of a freshly generated ES256 key that the service does not know, under the given `kid`. */
export async function foreignKeySet(kid: string): Promise<KeySet> {
  const jwk = await generateSigningKey('ES256');
  return importKeySet({ jwks: { keys: [{ ...jwk, kid }] } });
}

/** An unsigned (`alg: none`) token with the given claims. */
export function unsignedToken(claims: Record<string, unknown>): string {
  return `${b64json({ alg: 'none', typ: 'at+jwt' })}.${b64json(claims)}.`;
}
