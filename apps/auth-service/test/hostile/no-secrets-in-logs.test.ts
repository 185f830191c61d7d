// Nothing secret in the logs: the service is built with its own logger settings (redaction included) at level trace,
// writing to a capture; full flows run with right and wrong passwords (verify, login, refresh with rotation and
// reuse, validate, sessions, logs, attempts, logout); then no password (right or wrong), no refresh token and no full
// access token (nor its signature) may appear anywhere in what was logged.
import type { TestDatabase } from '@mxp/db/testing';
import { startLogCapturedApp } from '@mxp/testing/log-capture';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthServiceApp, buildApp } from '../../src/app.js';
import { loadAuthServiceConfig } from '../../src/config.js';
import { testEnv } from '../helpers.js';
import { CHEAP_HASH, createApplication, createUser } from '../routes/support.js';

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

/** Every string that must never be logged, each with what it is. */
const secrets = new Map<string, string>();
function secret(value: string, what: string): string {
  secrets.set(value, what);
  // As it would appear inside a JSON string of a log line.
  secrets.set(JSON.stringify(value).slice(1, -1), `${what} (JSON-escaped)`);
  return value;
}
/** A token: the whole of it, and for a JWT its signature (the part that makes it usable). */
function tokenSecret(token: string, what: string): string {
  secret(token, what);
  const signature = token.split('.')[2];
  if (signature) secret(signature, `signature of ${what}`);
  return token;
}

function tokensOf(response: LightMyRequestResponse, what: string): { access: string; refresh: string | undefined } {
  expect(response.statusCode, response.body).toBe(200);
  const body = response.json<{ access_token: string; refresh_token?: string }>();
  tokenSecret(body.access_token, `access token (${what})`);
  if (body.refresh_token) secret(body.refresh_token, `refresh token (${what})`);
  return { access: body.access_token, refresh: body.refresh_token };
}

describe('auth-service logs at level trace', () => {
  it('hold no password, refresh token or access token after full flows with right and wrong passwords', async () => {
    const password = secret('Correct-Horse-Battery-Staple-ñ-4711', 'password');
    const wrong = secret('Correct-Horse-Battery-Staple-ñ-4712', 'wrong password (near miss)');
    const guessed = secret('hunter2-Guess-0ne', 'guessed password');
    const user = await createUser(app.db, { password, params: CHEAP_HASH });
    const applicationId = (await createApplication(app.db)).id;
    const inject = app.inject.bind(app);
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

    // verify: right, wrong, unknown user, malformed JSON around the password, too long.
    expect(
      (await inject({ method: 'POST', url: '/auth/verify', payload: { username: user.username, password } }))
        .statusCode,
    ).toBe(200);
    for (const payload of [
      { username: user.username, password: wrong },
      { email: user.email, password: guessed },
      { username: 'nobody', password },
      { username: user.username, password: `${password}${'x'.repeat(1024)}` },
    ]) {
      expect((await inject({ method: 'POST', url: '/auth/verify', payload })).statusCode).toBeGreaterThanOrEqual(400);
    }
    for (const payload of [
      `{"username":"${user.username}","password":"${password}"`,
      `{"username":"${user.username}","password":${password}}`,
      `{"password":"${password}","extra":1}`,
    ]) {
      const response = await inject({
        method: 'POST',
        url: '/auth/verify',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      expect(response.statusCode).toBe(400);
    }

    // login: right (three sessions), wrong, unknown application.
    const first = tokensOf(
      await inject({
        method: 'POST',
        url: '/auth/login',
        payload: { username: user.username, password, application_id: applicationId, device_info: { os: 'Linux' } },
      }),
      'login',
    );
    const second = tokensOf(
      await inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email: user.email, password, application_id: applicationId },
      }),
      'second login',
    );
    const third = tokensOf(
      await inject({
        method: 'POST',
        url: '/auth/login',
        payload: { username: user.username, password, application_id: applicationId },
      }),
      'third login',
    );
    for (const payload of [
      { username: user.username, password: wrong, application_id: applicationId },
      { username: user.username, password: guessed, application_id: applicationId },
      { username: user.username, password, application_id: 'no-such-application' },
    ]) {
      expect((await inject({ method: 'POST', url: '/auth/login', payload })).statusCode).toBeGreaterThanOrEqual(400);
    }

    // refresh: rotation, the spent token again, a junk token, an access token.
    const rotated = tokensOf(
      await inject({ method: 'POST', url: '/auth/token/refresh', payload: { refresh_token: first.refresh } }),
      'refresh',
    );
    for (const refreshToken of [first.refresh, `${rotated.refresh}x`, first.access]) {
      const response = await inject({
        method: 'POST',
        url: '/auth/token/refresh',
        payload: { refresh_token: refreshToken },
      });
      expect(response.statusCode).toBe(401);
    }

    // The Bearer routes with good and bad tokens.
    expect(
      (await inject({ method: 'POST', url: '/auth/token/validate', headers: bearer(rotated.access) })).statusCode,
    ).toBe(200);
    expect(
      (await inject({ method: 'POST', url: '/auth/token/validate', headers: bearer(`${rotated.access}x`) })).statusCode,
    ).toBe(401);
    expect(
      (await inject({ method: 'POST', url: '/auth/token/validate', headers: bearer(rotated.refresh ?? '') }))
        .statusCode,
    ).toBe(401);
    expect((await inject({ method: 'GET', url: '/auth/session/me', headers: bearer(rotated.access) })).statusCode).toBe(
      200,
    );
    expect((await inject({ method: 'GET', url: '/auth/sessions', headers: bearer(rotated.access) })).statusCode).toBe(
      200,
    );
    const page = await inject({ method: 'GET', url: '/auth/logs?limit=1', headers: bearer(rotated.access) });
    expect(page.statusCode).toBe(200);
    const cursor = String(page.headers['x-next-cursor']);
    expect(
      (await inject({ method: 'GET', url: `/auth/logs?limit=2&cursor=${cursor}`, headers: bearer(rotated.access) }))
        .statusCode,
    ).toBe(200);
    const sessionOfSecond = second.access.split('.')[1] ?? '';
    const secondSessionId = JSON.parse(Buffer.from(sessionOfSecond, 'base64url').toString('utf8')).sid as string;
    expect(
      (await inject({ method: 'DELETE', url: `/auth/sessions/${secondSessionId}`, headers: bearer(rotated.access) }))
        .statusCode,
    ).toBe(200);
    expect(
      (await inject({ method: 'DELETE', url: '/auth/sessions', headers: bearer(rotated.access) })).statusCode,
    ).toBe(200);
    expect((await inject({ method: 'GET', url: '/auth/session/me', headers: bearer(third.access) })).statusCode).toBe(
      401,
    );
    expect(
      (
        await inject({
          method: 'POST',
          url: '/auth/attempts',
          payload: { identifier: user.username, method: 'credentials', success: false },
        })
      ).statusCode,
    ).toBe(201);
    expect((await inject({ method: 'POST', url: '/auth/logout', headers: bearer(rotated.access) })).statusCode).toBe(
      200,
    );
    expect((await inject({ method: 'POST', url: '/auth/logout', headers: bearer(rotated.access) })).statusCode).toBe(
      401,
    );
    expect(
      (await inject({ method: 'POST', url: '/auth/token/refresh', payload: { refresh_token: rotated.refresh } }))
        .statusCode,
    ).toBe(401);

    // The capture works and saw the flows at trace level.
    const output = logged.join('');
    expect(app.log.level).toBe('trace');
    expect(logged.length).toBeGreaterThan(40);
    expect(output).toContain('"msg":"request completed"');
    expect(output).toContain('"msg":"request refused"');
    expect(output).toContain('"msg":"refresh refused"');

    const leaks = [...secrets].filter(([value]) => output.includes(value)).map(([, what]) => what);
    expect(leaks).toEqual([]);
  });

  // Fastify's request serializer logged `req.url` with its query string (now each request's one log line), and the redaction of
  // packages/service-kit/src/logger.ts only covers headers and body-like paths: a client that puts a password or a
  // token in the URL has it written to the logs. Fix: a `req` serializer in loggerOptions that logs the path and
  // masks the values of the query parameters.
  it('hold no secret that a misbehaving client put in the query string', async () => {
    const password = 'Query-String-Password-0815';
    const user = await createUser(app.db, { password, params: CHEAP_HASH });
    const applicationId = (await createApplication(app.db)).id;
    const signedIn = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: user.username, password, application_id: applicationId },
    });
    const { access_token: accessToken, refresh_token: refreshToken } = signedIn.json<Record<string, string>>();
    const from = logged.length;
    await app.inject({ method: 'GET', url: `/auth/session/me?access_token=${accessToken}` });
    await app.inject({ method: 'POST', url: `/auth/token/refresh?refresh_token=${refreshToken}`, payload: {} });
    await app.inject({
      method: 'POST',
      url: `/auth/verify?password=${password}`,
      payload: { username: user.username },
    });
    const output = logged.slice(from).join('');
    expect(output).toContain('"msg":"request completed"');
    for (const value of [accessToken, refreshToken, password]) expect(output).not.toContain(value);
  });
});
