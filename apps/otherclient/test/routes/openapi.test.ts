// The OpenAPI document against the app: valid 3.1, every route and status in it, and real answers matching it.
import { documentedAnswers, documentedOperations, documentSuite, type OpenApiDocument } from '@mxp/testing/openapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth, FORM, form, freshIp, newClient, startApp, type TestApp, type TestClient } from './support.js';

let testApp: TestApp;
let client: TestClient;
let document: OpenApiDocument;

beforeAll(async () => {
  testApp = await startApp();
  client = await newClient(testApp, { name: 'Docs client', scopes: ['orders:read'] });
  document = (await testApp.app.inject({ method: 'GET', url: '/docs/json' })).json();
});
afterAll(async () => {
  await testApp?.close();
});

documentSuite({ app: () => testApp.app, document: () => document, prefix: '/api/auth' });

describe('real answers match the documented schema of their status', () => {
  const answers = documentedAnswers(() => document);
  const { expectDocumented } = answers;

  const inject = (method: 'GET' | 'POST', url: string, options: Record<string, unknown> = {}) =>
    testApp.app.inject({ method, url, remoteAddress: freshIp(), ...options });

  async function accessToken(): Promise<string> {
    const response = await inject('POST', '/api/auth/token', { payload: client });
    return response.json().data.token;
  }

  it('GET /api/auth/health', async () => {
    // Its 503 (database down) is checked in database-down.test.ts's envelope assertions.
    await expectDocumented('GET', '/api/auth/health', await inject('GET', '/api/auth/health'), 200);
  });

  it('POST /api/auth/token', async () => {
    const path = '/api/auth/token';
    await expectDocumented('POST', path, await inject('POST', path, { payload: client }), 200);
    await expectDocumented('POST', path, await inject('POST', path, { payload: { clientId: client.clientId } }), 400);
    const wrong = { ...client, clientSecret: 'not-the-secret' };
    await expectDocumented('POST', path, await inject('POST', path, { payload: wrong }), 401);
  });

  it('GET /api/auth/token/info', async () => {
    const path = '/api/auth/token/info';
    const authorization = `Bearer ${await accessToken()}`;
    await expectDocumented('GET', path, await inject('GET', path, { headers: { authorization } }), 200);
    await expectDocumented('GET', path, await inject('GET', path), 401);
  });

  it('POST /oauth/token', async () => {
    const path = '/oauth/token';
    const headers = { ...FORM, authorization: basicAuth(client.clientId, client.clientSecret) };
    const grant = form({ grant_type: 'client_credentials' });
    await expectDocumented('POST', path, await inject('POST', path, { headers, payload: grant }), 200);
    const unsupported = form({ grant_type: 'password' });
    await expectDocumented('POST', path, await inject('POST', path, { headers, payload: unsupported }), 400);
    const wrong = { ...FORM, authorization: basicAuth(client.clientId, 'not-the-secret') };
    await expectDocumented('POST', path, await inject('POST', path, { headers: wrong, payload: grant }), 401);
  });

  it.each(['/oauth/introspect', '/oauth/revoke'])('POST %s', async (path) => {
    const headers = { ...FORM, authorization: basicAuth(client.clientId, client.clientSecret) };
    const token = form({ token: await accessToken() });
    await expectDocumented('POST', path, await inject('POST', path, { headers, payload: token }), 200);
    await expectDocumented('POST', path, await inject('POST', path, { headers, payload: form({}) }), 400);
    const wrong = { ...FORM, authorization: basicAuth(client.clientId, 'not-the-secret') };
    await expectDocumented('POST', path, await inject('POST', path, { headers: wrong, payload: token }), 401);
  });

  it.each(['/.well-known/oauth-authorization-server', '/.well-known/jwks.json', '/api/auth/.well-known/jwks.json'])(
    'GET %s',
    async (path) => {
      await expectDocumented('GET', path, await inject('GET', path), 200);
    },
  );

  it('covers every documented operation', () => {
    expect(answers.exercised()).toEqual(documentedOperations(document));
  });
});
