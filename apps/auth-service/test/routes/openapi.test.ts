// The OpenAPI document against the app: valid 3.1, every route and status in it, and real answers matching it.
import { documentedAnswers, documentedOperations, documentSuite, type OpenApiDocument } from '@mxp/testing/openapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  createApplication,
  createUser,
  login,
  startApp,
  type TestApp,
  type TestUser,
  unique,
} from './support.js';

let testApp: TestApp;
let document: OpenApiDocument;
let user: TestUser;
let applicationId: string;

beforeAll(async () => {
  testApp = await startApp();
  document = (await testApp.app.inject({ method: 'GET', url: '/docs/json' })).json();
  user = await createUser(testApp.db);
  applicationId = (await createApplication(testApp.db)).id;
});
afterAll(async () => {
  await testApp?.close();
});

documentSuite({ app: () => testApp.app, document: () => document, prefix: '/auth' });

describe('real answers match the documented schema of their status', () => {
  const answers = documentedAnswers(() => document);
  const { expectDocumented } = answers;

  const inject = (method: 'GET' | 'POST' | 'DELETE', url: string, options: Record<string, unknown> = {}) =>
    testApp.app.inject({ method, url, ...options });

  /** A fresh session of the user, with a device_info so that the nullable member is exercised with a value. */
  const session = () => login(testApp, user, applicationId, { device_info: { platform: 'web' } });

  it('GET /auth/health', async () => {
    // Its 503 (database down) is checked by the fault tests' envelope assertions.
    await expectDocumented('GET', '/auth/health', await inject('GET', '/auth/health'), 200);
  });

  it('GET /auth/.well-known/jwks.json', async () => {
    const path = '/auth/.well-known/jwks.json';
    await expectDocumented('GET', path, await inject('GET', path), 200);
  });

  it('POST /auth/verify', async () => {
    const path = '/auth/verify';
    const good = { username: user.username, password: user.password };
    await expectDocumented('POST', path, await inject('POST', path, { payload: good }), 200);
    await expectDocumented('POST', path, await inject('POST', path, { payload: { username: 'x' } }), 400);
    const wrong = { username: user.username, password: 'not-the-password' };
    await expectDocumented('POST', path, await inject('POST', path, { payload: wrong }), 401);
  });

  it('POST /auth/login', async () => {
    const path = '/auth/login';
    const good = { email: user.email, password: user.password, application_id: applicationId };
    await expectDocumented('POST', path, await inject('POST', path, { payload: good }), 200);
    await expectDocumented('POST', path, await inject('POST', path, { payload: { email: user.email } }), 400);
    const wrong = { ...good, password: 'not-the-password' };
    await expectDocumented('POST', path, await inject('POST', path, { payload: wrong }), 401);
    const disabled = (await createApplication(testApp.db, { status: 'disabled' })).id;
    await expectDocumented(
      'POST',
      path,
      await inject('POST', path, { payload: { ...good, application_id: disabled } }),
      403,
    );
  });

  it('POST /auth/logout', async () => {
    const path = '/auth/logout';
    const { access_token } = await session();
    await expectDocumented('POST', path, await inject('POST', path, { headers: bearer(access_token) }), 200);
    await expectDocumented('POST', path, await inject('POST', path, { headers: bearer(access_token) }), 401);
  });

  it('POST /auth/token/refresh', async () => {
    const path = '/auth/token/refresh';
    const { refresh_token } = await session();
    await expectDocumented('POST', path, await inject('POST', path, { payload: { refresh_token } }), 200);
    await expectDocumented('POST', path, await inject('POST', path, { payload: {} }), 400);
    const unknown = { refresh_token: unique('not-a-refresh-token') };
    await expectDocumented('POST', path, await inject('POST', path, { payload: unknown }), 401);
  });

  it('POST /auth/token/validate', async () => {
    const path = '/auth/token/validate';
    const { access_token } = await session();
    await expectDocumented('POST', path, await inject('POST', path, { headers: bearer(access_token) }), 200);
    // The 401 carries `valid: false` besides the envelope: its own schema.
    await expectDocumented('POST', path, await inject('POST', path), 401);
  });

  it.each(['/auth/session/me', '/auth/sessions'])('GET %s', async (path) => {
    const { access_token } = await session();
    await expectDocumented('GET', path, await inject('GET', path, { headers: bearer(access_token) }), 200);
    await expectDocumented('GET', path, await inject('GET', path), 401);
  });

  it('DELETE /auth/sessions/{session_id}', async () => {
    const path = '/auth/sessions/{session_id}';
    const { access_token } = await session();
    const other = await session();
    const headers = bearer(access_token);
    const url = `/auth/sessions/${other.session_id}`;
    await expectDocumented('DELETE', path, await inject('DELETE', url, { headers }), 200);
    await expectDocumented('DELETE', path, await inject('DELETE', url, { headers }), 404);
    // No 400 here: an id longer than the schema allows is cut off by the router first (maxParamLength, a 414).
    await expectDocumented('DELETE', path, await inject('DELETE', url), 401);
  });

  it('DELETE /auth/sessions', async () => {
    const { access_token } = await session();
    const headers = bearer(access_token);
    await expectDocumented('DELETE', '/auth/sessions', await inject('DELETE', '/auth/sessions', { headers }), 200);
    await expectDocumented('DELETE', '/auth/sessions', await inject('DELETE', '/auth/sessions'), 401);
  });

  it('POST /auth/attempts', async () => {
    const path = '/auth/attempts';
    const attempt = { identifier: user.username, method: 'credentials', success: false, reason: 'wrong_password' };
    await expectDocumented('POST', path, await inject('POST', path, { payload: attempt }), 201);
    await expectDocumented('POST', path, await inject('POST', path, { payload: { method: 'carrier-pigeon' } }), 400);
  });

  it('GET /auth/logs', async () => {
    const { access_token } = await session();
    const headers = bearer(access_token);
    await expectDocumented('GET', '/auth/logs', await inject('GET', '/auth/logs?limit=5', { headers }), 200);
    await expectDocumented('GET', '/auth/logs', await inject('GET', '/auth/logs?limit=0', { headers }), 400);
    await expectDocumented('GET', '/auth/logs', await inject('GET', '/auth/logs'), 401);
  });

  it('covers every documented operation', () => {
    expect(answers.exercised()).toEqual(documentedOperations(document));
  });
});
