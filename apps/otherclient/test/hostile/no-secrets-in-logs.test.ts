// Nothing secret in the logs: the service is built with its own logger settings (redaction included) at level trace,
// writing to a capture; full flows run with right and wrong secrets; then no client secret (right or wrong, plain or
// inside a Basic header) and no full access token (nor its signature) may appear anywhere in what was logged.
import type { TestDatabase } from '@mxp/db/testing';
import { startLogCapturedApp } from '@mxp/testing/log-capture';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type OtherclientApp } from '../../src/app.js';
import { loadOtherclientConfig, type OtherclientConfig } from '../../src/config.js';
import { createClient, setClientStatus } from '../../src/services/clients.js';
import { testEnv } from '../helpers.js';
import { basicAuth, FORM, form, type TestClient } from '../routes/support.js';

const logged: string[] = [];
let database: TestDatabase;
let config: OtherclientConfig;
let app: OtherclientApp;

beforeAll(async () => {
  ({ database, config, app } = await startLogCapturedApp({
    buildApp,
    loadConfig: loadOtherclientConfig,
    testEnv,
    serviceName: 'otherclient',
    logged,
  }));
});
afterAll(async () => {
  await app?.close();
  await database?.drop();
});

async function newClient(name: string): Promise<TestClient> {
  const { client, clientSecret } = await createClient(app.db, config.CLIENT_SECRET_PEPPER, { name }, 'vitest');
  return { clientId: client.clientId, clientSecret };
}

/** Every string that must never be logged, each with what it is. */
const secrets = new Map<string, string>();
function secret(value: string, what: string): string {
  secrets.set(value, what);
  return value;
}
/** A token: the whole of it, and its signature (the part that makes it usable), must never be logged. */
function tokenSecret(token: string, what: string): string {
  secret(token, what);
  const signature = token.split('.')[2];
  if (signature) secret(signature, `signature of ${what}`);
  return token;
}

describe('otherclient logs at level trace', () => {
  it('hold no client secret and no access token after full flows with right and wrong secrets', async () => {
    const client = await newClient('Logged');
    const disabled = await newClient('Logged, disabled');
    await setClientStatus(app.db, disabled.clientId, 'disabled', 'vitest');
    secret(client.clientSecret, 'client secret');
    secret(disabled.clientSecret, "disabled client's secret");
    const wrong = secret(
      `${client.clientSecret.slice(0, -1)}${client.clientSecret.endsWith('0') ? '1' : '0'}`,
      'wrong secret (near miss)',
    );
    const other = secret('Sup3r-Secret-Guess-0ne', 'guessed secret');
    for (const [id, value] of [
      [client.clientId, client.clientSecret],
      [client.clientId, wrong],
      ['unknown-client', other],
    ] as const) {
      secret(basicAuth(id, value), 'Basic credentials');
      secret(Buffer.from(`${id}:${value}`).toString('base64'), 'Basic credentials (base64)');
    }

    const inject = app.inject.bind(app);
    // POST /api/auth/token: right, wrong, unknown, disabled, malformed JSON around the secret, too long.
    const issued = await inject({ method: 'POST', url: '/api/auth/token', payload: client });
    expect(issued.statusCode).toBe(200);
    const apiToken = tokenSecret(issued.json().data.token, 'access token (API)');
    for (const payload of [
      { clientId: client.clientId, clientSecret: wrong },
      { clientId: 'unknown-client', clientSecret: other },
      disabled,
      { clientId: client.clientId, clientSecret: `${client.clientSecret}${'x'.repeat(200)}` },
    ]) {
      expect((await inject({ method: 'POST', url: '/api/auth/token', payload })).statusCode).toBeGreaterThanOrEqual(
        400,
      );
    }
    for (const payload of [
      `{"clientId":"${client.clientId}","clientSecret":"${client.clientSecret}"`,
      `{"clientId":"${client.clientId}","clientSecret":${client.clientSecret}}`,
      `{"clientSecret":"${client.clientSecret}","extra":1}`,
    ]) {
      const response = await inject({
        method: 'POST',
        url: '/api/auth/token',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      expect(response.statusCode).toBe(400);
    }

    // GET /api/auth/token/info: valid, tampered.
    expect(
      (await inject({ method: 'GET', url: '/api/auth/token/info', headers: { authorization: `Bearer ${apiToken}` } }))
        .statusCode,
    ).toBe(200);
    expect(
      (await inject({ method: 'GET', url: '/api/auth/token/info', headers: { authorization: `Bearer ${apiToken}x` } }))
        .statusCode,
    ).toBe(401);

    // OAuth: both authentication methods, right and wrong, malformed, wrong content type, both methods at once.
    const basic = await inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { ...FORM, authorization: basicAuth(client.clientId, client.clientSecret) },
      payload: form({ grant_type: 'client_credentials' }),
    });
    expect(basic.statusCode).toBe(200);
    const oauthToken = tokenSecret(basic.json().access_token, 'access token (OAuth, basic)');
    const post = await inject({
      method: 'POST',
      url: '/oauth/token',
      headers: FORM,
      payload: form({
        grant_type: 'client_credentials',
        client_id: client.clientId,
        client_secret: client.clientSecret,
      }),
    });
    expect(post.statusCode).toBe(200);
    tokenSecret(post.json().access_token, 'access token (OAuth, post)');
    for (const request of [
      {
        headers: { ...FORM, authorization: basicAuth(client.clientId, wrong) },
        payload: form({ grant_type: 'client_credentials' }),
      },
      {
        headers: { ...FORM, authorization: basicAuth('unknown-client', other) },
        payload: form({ grant_type: 'client_credentials' }),
      },
      {
        headers: FORM,
        payload: form({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: wrong }),
      },
      {
        headers: { ...FORM, authorization: basicAuth(client.clientId, client.clientSecret) },
        payload: form({ grant_type: 'client_credentials', client_secret: client.clientSecret }),
      },
      {
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({
          grant_type: 'client_credentials',
          client_id: client.clientId,
          client_secret: client.clientSecret,
        }),
      },
      {
        headers: FORM,
        payload: form({ grant_type: 'password', client_id: client.clientId, client_secret: client.clientSecret }),
      },
      {
        headers: FORM,
        payload: form({
          grant_type: 'client_credentials',
          client_id: client.clientId,
          client_secret: client.clientSecret,
          scope: 'admin',
        }),
      },
    ]) {
      expect((await inject({ method: 'POST', url: '/oauth/token', ...request })).statusCode).toBeGreaterThanOrEqual(
        400,
      );
    }

    // Introspection and revocation, then the revoked token everywhere.
    for (const [url, token, credentials] of [
      ['/oauth/introspect', apiToken, basicAuth(client.clientId, client.clientSecret)],
      ['/oauth/introspect', apiToken, basicAuth(client.clientId, wrong)],
      ['/oauth/revoke', oauthToken, basicAuth(client.clientId, wrong)],
      ['/oauth/revoke', oauthToken, basicAuth(client.clientId, client.clientSecret)],
      ['/oauth/introspect', oauthToken, basicAuth(client.clientId, client.clientSecret)],
    ] as const) {
      await inject({ method: 'POST', url, headers: { ...FORM, authorization: credentials }, payload: form({ token }) });
    }
    expect(
      (await inject({ method: 'GET', url: '/api/auth/token/info', headers: { authorization: `Bearer ${oauthToken}` } }))
        .statusCode,
    ).toBe(401);

    // The capture works and saw the flows at trace level.
    const output = logged.join('');
    expect(logged.length).toBeGreaterThan(40);
    expect(output).toContain('"msg":"request completed"');
    expect(output).toContain('"msg":"request refused"');
    expect(app.log.level).toBe('trace');

    const leaks = [...secrets].filter(([value]) => output.includes(value)).map(([, what]) => what);
    expect(leaks).toEqual([]);
  });

  // Fastify's request serializer logged `req.url` with its query string (now each request's one log line), and the redaction of
  // packages/service-kit/src/logger.ts only covers headers and body-like paths: a client that puts its secret or token in
  // the URL (forbidden by RFC 6749 §2.3.1, discouraged by RFC 6750 §2.3) has it written to the logs. Fix: a `req`
  // serializer in loggerOptions that logs the path and masks the values of the query parameters.
  it('hold no secret that a misbehaving client put in the query string', async () => {
    const client = await newClient('Query-string client');
    const issued = await app.inject({ method: 'POST', url: '/api/auth/token', payload: client });
    const token = issued.json().data.token as string;
    const from = logged.length;
    await app.inject({ method: 'GET', url: `/api/auth/token/info?access_token=${token}` });
    await app.inject({
      method: 'POST',
      url: `/oauth/token?client_id=${client.clientId}&client_secret=${client.clientSecret}`,
      headers: FORM,
      payload: form({ grant_type: 'client_credentials' }),
    });
    const output = logged.slice(from).join('');
    expect(output).toContain('"msg":"request completed"');
    expect(output).not.toContain(token);
    expect(output).not.toContain(client.clientSecret);
  });
});
