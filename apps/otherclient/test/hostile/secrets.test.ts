// Client secrets: a near miss is refused on every endpoint that checks one, a huge one is refused before anything is
// looked up or written, and unknown client, wrong secret and disabled client are indistinguishable, in the answer
// and in its timing (medians within 10 %).

import { envelopeProblems, growth, oauthErrorProblems, tableCounter, UNLIMITED } from '@mxp/testing/hostile-requests';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setClientStatus } from '../../src/services/clients.js';
import {
  basicAuth,
  FORM,
  form,
  freshIp,
  newClient,
  startApp,
  type TestApp,
  type TestClient,
} from '../routes/support.js';

const INVALID_CREDENTIALS = { code: 401, status: 'error', message: 'Credenciales inválidas' };
const INVALID_CLIENT = { error: 'invalid_client', error_description: 'Client authentication failed' };

let testApp: TestApp;
let client: TestClient;
let disabled: TestClient;
let token: string;
let counts: () => Promise<Record<string, number>>;

beforeAll(async () => {
  testApp = await startApp(UNLIMITED);
  client = await newClient(testApp, { name: 'Secret keeper', scopes: ['orders:read'] });
  disabled = await newClient(testApp, { name: 'Disabled' });
  await setClientStatus(testApp.db, disabled.clientId, 'disabled', 'vitest');
  const countRows = await tableCounter(testApp.db, 'otherclient');
  // The app writes its token audit rows in batches: a count includes every row recorded so far.
  counts = async () => {
    await testApp.app.tokenAudit.flush();
    return countRows();
  };
  const issued = await apiToken(client);
  expect(issued.statusCode).toBe(200);
  token = issued.json().data.token;
});
afterAll(async () => {
  await testApp?.close();
});

function apiToken(credentials: TestClient, remoteAddress = freshIp()) {
  return testApp.app.inject({ method: 'POST', url: '/api/auth/token', remoteAddress, payload: credentials });
}

/** Every way of presenting credentials to otherclient, each answering the credentials' verdict. */
const PRESENTATIONS: Array<[string, (credentials: TestClient) => Promise<LightMyRequestResponse>]> = [
  ['POST /api/auth/token', (credentials) => apiToken(credentials)],
  [
    'POST /oauth/token (client_secret_basic)',
    (credentials) =>
      testApp.app.inject({
        method: 'POST',
        url: '/oauth/token',
        remoteAddress: freshIp(),
        headers: { ...FORM, authorization: basicAuth(credentials.clientId, credentials.clientSecret) },
        payload: form({ grant_type: 'client_credentials' }),
      }),
  ],
  [
    'POST /oauth/token (client_secret_post)',
    (credentials) =>
      testApp.app.inject({
        method: 'POST',
        url: '/oauth/token',
        remoteAddress: freshIp(),
        headers: FORM,
        payload: form({
          grant_type: 'client_credentials',
          client_id: credentials.clientId,
          client_secret: credentials.clientSecret,
        }),
      }),
  ],
  [
    'POST /oauth/introspect',
    (credentials) =>
      testApp.app.inject({
        method: 'POST',
        url: '/oauth/introspect',
        remoteAddress: freshIp(),
        headers: { ...FORM, authorization: basicAuth(credentials.clientId, credentials.clientSecret) },
        payload: form({ token }),
      }),
  ],
  [
    'POST /oauth/revoke',
    (credentials) =>
      testApp.app.inject({
        method: 'POST',
        url: '/oauth/revoke',
        remoteAddress: freshIp(),
        headers: { ...FORM, authorization: basicAuth(credentials.clientId, credentials.clientSecret) },
        // A token that is not the client's own working one: revoking it must change nothing either way.
        payload: form({ token: 'not-a-token' }),
      }),
  ],
];

/** A 401 with the usual body, or a 400 (refused as malformed before authentication, e.g. for a U+0000). */
function isRefusal(name: string, response: LightMyRequestResponse): boolean {
  if (response.statusCode === 400) {
    return (name.startsWith('POST /api') ? envelopeProblems(response) : oauthErrorProblems(response)).length === 0;
  }
  if (response.statusCode !== 401) return false;
  return name.startsWith('POST /api')
    ? JSON.stringify(response.json()) === JSON.stringify(INVALID_CREDENTIALS)
    : JSON.stringify(response.json()) === JSON.stringify(INVALID_CLIENT);
}

describe('client secrets', () => {
  it('control: the genuine secret is accepted everywhere', async () => {
    for (const [name, present] of PRESENTATIONS) {
      expect((await present(client)).statusCode, name).toBe(200);
    }
  });

  it('a secret differing in its last character (or one character more or less, or in case) is refused everywhere', async () => {
    const secret = client.clientSecret;
    const head = secret.slice(0, -1);
    const last = secret.at(-1) ?? '';
    const nearMisses: Array<[string, string]> = [
      ...['0', '1', 'a', 'f', 'A', 'F', '-', ' ']
        .filter((ch) => ch !== last)
        .map((ch): [string, string] => [`last character ${ch}`, `${head}${ch}`]),
      ['last character dropped', head],
      ['a character appended', `${secret}0`],
      ['a space appended', `${secret} `],
      ['a newline appended', `${secret}\n`],
      ['U+0000 appended', `${secret}\u0000`],
      ['upper-cased', secret.toUpperCase()],
      ["another client's secret", disabled.clientSecret],
    ];
    const accepted: string[] = [];
    for (const [label, clientSecret] of nearMisses) {
      if (clientSecret === secret) continue;
      for (const [name, present] of PRESENTATIONS) {
        const response = await present({ clientId: client.clientId, clientSecret });
        if (!isRefusal(name, response)) accepted.push(`${name} ← ${label}: ${response.statusCode} ${response.body}`);
      }
    }
    expect(accepted).toEqual([]);
  });

  it('a 1 MB secret is refused at once, before any lookup: 400 on the API, 413 on OAuth, no row of any kind', async () => {
    const clientSecret = 's'.repeat(1024 * 1024);
    const attempts: Array<[string, () => Promise<LightMyRequestResponse>, number]> = [
      ['POST /api/auth/token', () => apiToken({ clientId: client.clientId, clientSecret }), 400],
      [
        'POST /oauth/token',
        () =>
          testApp.app.inject({
            method: 'POST',
            url: '/oauth/token',
            headers: FORM,
            payload: form({
              grant_type: 'client_credentials',
              client_id: client.clientId,
              client_secret: clientSecret,
            }),
          }),
        413,
      ],
    ];
    for (const [name, attempt, status] of attempts) {
      const before = await counts();
      const started = performance.now();
      const response = await attempt();
      const elapsed = performance.now() - started;
      expect(response.statusCode, name).toBe(status);
      expect(name.startsWith('POST /api') ? envelopeProblems(response) : oauthErrorProblems(response), name).toEqual(
        [],
      );
      expect(growth(before, await counts()), name).toEqual({});
      expect(elapsed, name).toBeLessThan(100);
    }
  });

  it('a secret over the 200-character limit but within the body limit is refused (400) without a row', async () => {
    for (const clientSecret of [`${client.clientSecret}${'x'.repeat(200)}`, 's'.repeat(60_000)]) {
      const before = await counts();
      const response = await apiToken({ clientId: client.clientId, clientSecret });
      expect(response.statusCode).toBe(400);
      expect(envelopeProblems(response)).toEqual([]);
      expect(growth(before, await counts())).toEqual({});
    }
  });
});

/** Response headers without those that differ on every response by design. */
function comparable(response: LightMyRequestResponse) {
  const { 'x-request-id': _id, date: _date, ...headers } = response.headers;
  return { status: response.statusCode, headers, body: response.body };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

describe('unknown client, wrong secret and disabled client are indistinguishable', () => {
  const cases = (): Array<[string, TestClient]> => [
    ['unknown client', { clientId: `${client.clientId.slice(0, -4)}ffff`, clientSecret: client.clientSecret }],
    ['wrong secret', { clientId: client.clientId, clientSecret: disabled.clientSecret }],
    ['disabled client, right secret', disabled],
  ];

  for (const [name, present] of PRESENTATIONS.slice(0, 4)) {
    it(`${name}: the same status, headers (but request id and date) and body`, async () => {
      const answers = [];
      for (const [, credentials] of cases()) answers.push(comparable(await present(credentials)));
      const [first, ...rest] = answers;
      expect(first?.status).toBe(401);
      for (const other of rest) expect(other).toEqual(first);
    });
  }

  it('POST /api/auth/token: median times within 10 % (250 interleaved rounds)', async () => {
    const named = cases();
    const rounds = 250;
    const warmUp = 20;
    // Per round, each case's time relative to the round's mean: the cases of a round run back to back, so a machine
    // that slows down or speeds up during the measurement moves all of them together and cancels out.
    const ratios = named.map((): number[] => []);
    const times = named.map((): number[] => []);
    for (let round = 0; round < rounds + warmUp; round += 1) {
      const roundTimes: number[] = [];
      for (let index = 0; index < named.length; index += 1) {
        const which = (index + round) % named.length;
        const [, credentials] = named[which] as [string, TestClient];
        const started = performance.now();
        const response = await apiToken(credentials);
        roundTimes[which] = performance.now() - started;
        expect(response.statusCode).toBe(401);
      }
      if (round < warmUp) continue;
      const mean = roundTimes.reduce((sum, value) => sum + value, 0) / roundTimes.length;
      roundTimes.forEach((value, which) => {
        ratios[which]?.push(value / mean);
        times[which]?.push(value);
      });
    }
    const medians = ratios.map(median);
    const report = named
      .map(
        ([name], index) => `${name} ${median(times[index] ?? []).toFixed(2)} ms (×${(medians[index] ?? 0).toFixed(3)})`,
      )
      .join(', ');
    const fastest = Math.min(...medians);
    expect((Math.max(...medians) - fastest) / fastest, report).toBeLessThanOrEqual(0.1);
  }, 60_000);
});
