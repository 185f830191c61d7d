// The request log line names the integrator a token request served: `client:<id>` once the client authenticated,
// nothing when it did not (the line is written by service-kit's requestLogging).
import type { TestDatabase } from '@mxp/db/testing';
import { requestLogLine, startLogCapturedApp } from '@mxp/testing/log-capture';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type OtherclientApp } from '../../src/app.js';
import { loadOtherclientConfig, type OtherclientConfig } from '../../src/config.js';
import { createClient } from '../../src/services/clients.js';
import { testEnv } from '../helpers.js';

const logged: string[] = [];
let database: TestDatabase;
let app: OtherclientApp;
let config: OtherclientConfig;

beforeAll(async () => {
  ({ database, app, config } = await startLogCapturedApp({
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

function requestLine(requestId: string): Record<string, unknown> {
  return requestLogLine(logged, requestId);
}

describe('request.subject on otherclient', () => {
  it('is the client on an issued token, absent on a refused one', async () => {
    const { client, clientSecret } = await createClient(
      app.db,
      config.CLIENT_SECRET_PEPPER,
      { name: 'Subject' },
      'vitest',
    );
    for (const [id, secret, status] of [
      ['subject-issued', clientSecret, 200],
      ['subject-refused', 'not-the-secret', 401],
    ] as const) {
      const response = await app.inject({
        method: 'POST',
        url: '/api/auth/token',
        headers: { 'x-request-id': id },
        payload: { clientId: client.clientId, clientSecret: secret },
      });
      expect(response.statusCode, response.body).toBe(status);
    }
    expect(requestLine('subject-issued').subject).toBe(`client:${client.clientId}`);
    expect(requestLine('subject-refused').subject).toBeUndefined();
  });

  it('is the client on the OAuth endpoints once it authenticated', async () => {
    const { client, clientSecret } = await createClient(
      app.db,
      config.CLIENT_SECRET_PEPPER,
      { name: 'OAuth' },
      'vitest',
    );
    const response = await app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${client.clientId}:${clientSecret}`).toString('base64')}`,
        'x-request-id': 'subject-oauth',
      },
      payload: 'grant_type=client_credentials',
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(requestLine('subject-oauth').subject).toBe(`client:${client.clientId}`);
  });
});
