// Shared helpers of the route and service tests (not a test file itself: vitest only runs `*.test.ts`).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PrismaClient, TokenAudit } from '@mxp/db';
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { vi } from 'vitest';
import { createClient, type NewClient } from '../../src/services/clients.js';
import { startTestApp } from '../helpers.js';

export type TestApp = Awaited<ReturnType<typeof startTestApp>>;

/** The app on its own database, with development keys generated in a throwaway directory. */
export function startApp(env: NodeJS.ProcessEnv = {}): Promise<TestApp> {
  return startTestApp({ DATA_DIR: mkdtempSync(join(tmpdir(), 'mxp-otherclient-test-')), ...env });
}

export interface TestClient {
  clientId: string;
  clientSecret: string;
}

/** A new API client through the administrative service, with its one-time secret. */
export async function newClient(testApp: TestApp, input: Partial<NewClient> = {}): Promise<TestClient> {
  const { client, clientSecret } = await createClient(
    testApp.db,
    testApp.config.CLIENT_SECRET_PEPPER,
    { name: 'Integrator', ...input },
    'vitest',
  );
  return { clientId: client.clientId, clientSecret };
}

/**
 * Waits until the app has been notified (PostgreSQL NOTIFY) of a change made to a client outside it, as by the admin
 * CLI or another replica: until then its client cache may still hold the client as it was, for milliseconds.
 */
export async function untilNotified(testApp: TestApp, clientId: string, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (testApp.app.clientCache.peek(clientId) !== undefined) {
    if (Date.now() > deadline) throw new Error(`client ${clientId} still cached ${ms} ms after its change`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

let lastAddress = 0;
/** A client address never used before, hence a rate-limit bucket of its own (`app.inject({ remoteAddress })`). */
export function freshIp(): string {
  lastAddress += 1;
  return `10.${(lastAddress >> 16) & 255}.${(lastAddress >> 8) & 255}.${lastAddress & 255}`;
}

export const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** An `application/x-www-form-urlencoded` body. */
export function form(parameters: Record<string, string>): string {
  return new URLSearchParams(parameters).toString();
}

/** `client_secret_basic` (RFC 6749 §2.3.1): Basic base64(urlencode(id):urlencode(secret)). */
export function basicAuth(clientId: string, clientSecret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replaceAll('%20', '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

/** The token audit trail, oldest first. */
export function auditRows(db: PrismaClient): Promise<TokenAudit[]> {
  return db.tokenAudit.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
}

/** Runs `fn` with `Date` frozen at `at` (timers and the event loop stay real), then restores the real clock. */
export async function atTime<T>(at: Date | number, fn: () => Promise<T>): Promise<T> {
  vi.useFakeTimers({ now: at, toFake: ['Date'] });
  try {
    return await fn();
  } finally {
    vi.useRealTimers();
  }
}

/** A key resolver built only from the JSON the app serves at `url`, as an independent verifier would. */
export async function servedJwks(testApp: TestApp, url = '/.well-known/jwks.json') {
  const response = await testApp.app.inject({ method: 'GET', url });
  if (response.statusCode !== 200) throw new Error(`${url} answered ${response.statusCode}`);
  const jwks = response.json<JSONWebKeySet>();
  return { jwks, keys: createLocalJWKSet(jwks) };
}

/** Base64url of a JSON value, to hand-craft token parts. */
export function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Response headers without those that differ on every response by design. */
export function stableHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  const { 'x-request-id': _requestId, date: _date, ...rest } = headers;
  return rest;
}

/** Fastify's default error body (`{statusCode, error, message}`), which no response may use. */
export function isFastifyDefaultError(body: unknown): boolean {
  return typeof body === 'object' && body !== null && 'statusCode' in body;
}
