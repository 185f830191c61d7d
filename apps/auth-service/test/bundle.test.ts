// The production build runs the service as one bundled file (dist/server.bundle.js, `pnpm start`, the image): whatever
// a module finds beside itself at run time (the argon2 binary, Prisma's query compiler, the docs) must still be found.
// This runs the SSO flow through a bundle of the sources, started with `start`'s flags, in production mode.
import { type BundledService, queryCompilerOf, startBundledService } from '@mxp/testing/bundled-service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv } from './helpers.js';
import { createApplication, createUser, INVALID_CREDENTIALS, startApp, type TestApp } from './routes/support.js';

let testApp: TestApp;
let service: BundledService;

beforeAll(async () => {
  // In process only to seed the database the bundle serves.
  testApp = await startApp();
  service = await startBundledService('auth-service', testEnv(testApp.config.DATABASE_URL));
}, 60_000);

afterAll(async () => {
  await service?.stop();
  await testApp?.close();
});

async function call(method: string, path: string, body?: unknown, token?: string) {
  const response = await fetch(`${service.baseUrl}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('auth-service bundled for production', () => {
  it("loads Prisma's query compiler from its file beside the bundle, not from a base64 string in the bundle", () => {
    expect(queryCompilerOf(service)).toEqual({ besideBundle: true, inlinedAsBase64: false });
  });

  it('hashes on its low-priority threads: the argon2 binary loads beside the bundle', () => {
    expect(service.output()).toMatch(/"passwordHashing":\{"mode":"low-priority-workers"/);
  });

  it('serves the whole SSO flow, its errors in the envelope, its keys and its docs', async () => {
    const user = await createUser(testApp.db);
    const application = await createApplication(testApp.db);

    const wrong = await call('POST', '/auth/login', {
      username: user.username,
      password: 'not-the-password',
      application_id: application.id,
    });
    expect(wrong).toEqual({ status: 401, body: { code: 401, status: 'error', message: INVALID_CREDENTIALS } });

    const login = await call('POST', '/auth/login', {
      username: user.username,
      password: user.password,
      application_id: application.id,
    });
    expect(login.status, JSON.stringify(login.body)).toBe(200);
    const accessToken = String(login.body.access_token);
    expect((await call('POST', '/auth/token/validate', undefined, accessToken)).status).toBe(200);

    const refreshed = await call('POST', '/auth/token/refresh', { refresh_token: login.body.refresh_token });
    expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);
    const sessions = await call('GET', '/auth/sessions', undefined, String(refreshed.body.access_token));
    expect(sessions.status, JSON.stringify(sessions.body)).toBe(200);
    expect(JSON.stringify(sessions.body)).toContain(String(login.body.session_id));

    // Logout goes through Prisma (its query compiler is WebAssembly, bundled as base64).
    expect((await call('POST', '/auth/logout', undefined, String(refreshed.body.access_token))).status).toBe(200);
    expect((await call('POST', '/auth/token/validate', undefined, accessToken)).status).toBe(401);

    const jwks = await call('GET', '/auth/.well-known/jwks.json');
    expect(jwks.status).toBe(200);
    expect(jwks.body.keys).toHaveLength(1);
    const docs = await call('GET', '/auth/docs/json');
    expect(docs.status).toBe(200);
    expect(docs.body.openapi).toMatch(/^3\.1/);
  });

  it('exits 0 on SIGTERM', async () => {
    expect(await service.stop(), service.output()).toBe(0);
  });
});
