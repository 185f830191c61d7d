// The production build runs the service as one bundled file (dist/server.bundle.js, `pnpm start`, the image): whatever
// a module finds beside itself at run time (Prisma's query compiler, the docs) must still be found. This runs the
// integrator's flow through a bundle of the sources, started with `start`'s flags, in production mode.
import { type BundledService, queryCompilerOf, startBundledService } from '@mxp/testing/bundled-service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv } from './helpers.js';
import { newClient, startApp, type TestApp } from './routes/support.js';

let testApp: TestApp;
let service: BundledService;

beforeAll(async () => {
  // In process only to seed the database the bundle serves (the same pepper, so the secrets match).
  testApp = await startApp();
  service = await startBundledService('otherclient', testEnv(testApp.config.DATABASE_URL));
}, 60_000);

afterAll(async () => {
  await service?.stop();
  await testApp?.close();
});

async function post(path: string, body: string, headers: Record<string, string>) {
  const response = await fetch(`${service.baseUrl}${path}`, { method: 'POST', headers, body });
  const text = await response.text();
  // A revocation answers 200 with no body (RFC 7009).
  return { status: response.status, body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown> };
}

describe('otherclient bundled for production', () => {
  it("loads Prisma's query compiler from its file beside the bundle, not from a base64 string in the bundle", () => {
    expect(queryCompilerOf(service)).toEqual({ besideBundle: true, inlinedAsBase64: false });
  });

  it('issues, introspects and revokes tokens, answers errors in the envelope, and serves its keys and docs', async () => {
    const client = await newClient(testApp);
    const json = { 'content-type': 'application/json' };

    const wrong = await post('/api/auth/token', JSON.stringify({ clientId: client.clientId, clientSecret: 'x' }), json);
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ code: 401, status: 'error' });

    const issued = await post('/api/auth/token', JSON.stringify(client), json);
    expect(issued.status, JSON.stringify(issued.body)).toBe(200);

    const basic = `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`;
    const form = { 'content-type': 'application/x-www-form-urlencoded', authorization: basic };
    const oauth = await post('/oauth/token', 'grant_type=client_credentials', form);
    expect(oauth.status, JSON.stringify(oauth.body)).toBe(200);
    const token = String(oauth.body.access_token);
    expect((await post('/oauth/introspect', `token=${token}`, form)).body).toMatchObject({ active: true });
    // RevocationState writes through Prisma (its query compiler is WebAssembly, bundled as base64).
    expect((await post('/oauth/revoke', `token=${token}`, form)).status).toBe(200);
    expect((await post('/oauth/introspect', `token=${token}`, form)).body).toEqual({ active: false });

    const jwks = await fetch(`${service.baseUrl}/api/auth/.well-known/jwks.json`);
    expect(((await jwks.json()) as { keys: unknown[] }).keys).toHaveLength(1);
    const docs = await fetch(`${service.baseUrl}/docs/json`);
    expect(((await docs.json()) as { openapi: string }).openapi).toMatch(/^3\.1/);
  });

  it('exits 0 on SIGTERM', async () => {
    expect(await service.stop(), service.output()).toBe(0);
  });
});
