// The request log line names whom a request acted for: `user:<id>` once a Bearer token was accepted, nothing when it
// was refused or absent (the line is written by service-kit's requestLogging).
import type { TestDatabase } from '@mxp/db/testing';
import { requestLogLine, startLogCapturedApp } from '@mxp/testing/log-capture';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthServiceApp, buildApp } from '../../src/app.js';
import { loadAuthServiceConfig } from '../../src/config.js';
import { testEnv } from '../helpers.js';
import { bearer, createApplication, createUser } from '../routes/support.js';

const logged: string[] = [];
let database: TestDatabase;
let app: AuthServiceApp;

beforeAll(async () => {
  ({ database, app } = await startLogCapturedApp({
    buildApp,
    loadConfig: loadAuthServiceConfig,
    testEnv,
    serviceName: 'auth-service',
    logged,
  }));
});
afterAll(async () => {
  await app?.close();
  await database?.drop();
});

function requestLine(requestId: string): Record<string, unknown> {
  return requestLogLine(logged, requestId);
}

describe('request.subject on auth-service', () => {
  it('is the user on login, refresh, Bearer routes and validate; absent when refused', async () => {
    const user = await createUser(app.db);
    const application = await createApplication(app.db);
    const signedIn = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: user.username, password: user.password, application_id: application.id },
    });
    expect(signedIn.statusCode, signedIn.body).toBe(200);
    const { access_token: token, refresh_token: refreshToken } = signedIn.json<{
      access_token: string;
      refresh_token: string;
    }>();
    expect(requestLine(signedIn.headers['x-request-id'] as string).subject).toBe(`user:${user.id}`);
    const refreshed = await app.inject({
      method: 'POST',
      url: '/auth/token/refresh',
      headers: { 'x-request-id': 'subject-refresh' },
      payload: { refresh_token: refreshToken },
    });
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    expect(requestLine('subject-refresh').subject).toBe(`user:${user.id}`);
    const refused = await app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'x-request-id': 'subject-wrong-password' },
      payload: { username: user.username, password: `${user.password}x`, application_id: application.id },
    });
    expect(refused.statusCode).toBe(401);
    expect(requestLine('subject-wrong-password').subject).toBeUndefined();

    const requests = [
      { id: 'subject-validate', url: '/auth/token/validate', method: 'POST' as const, token },
      { id: 'subject-me', url: '/auth/session/me', method: 'GET' as const, token },
      { id: 'subject-refused', url: '/auth/token/validate', method: 'POST' as const, token: `${token}x` },
    ];
    for (const request of requests) {
      const response = await app.inject({
        method: request.method,
        url: request.url,
        headers: { ...bearer(request.token), 'x-request-id': request.id },
      });
      expect(response.statusCode, `${request.url}: ${response.body}`).toBe(
        request.id === 'subject-refused' ? 401 : 200,
      );
    }
    expect(requestLine('subject-validate').subject).toBe(`user:${user.id}`);
    expect(requestLine('subject-me').subject).toBe(`user:${user.id}`);
    expect(requestLine('subject-refused').subject).toBeUndefined();
  });
});
