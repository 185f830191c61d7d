// The database goes away mid-run (connections reset, the server shutting down, backends terminated, the network
// dropping): every endpoint answers 503 in its own error shape within a bounded time, never 500; the app stays up
// and recovers by itself once the database is back; no token is handed out without its audit row (written once the
// database is back, when it was away). A cached client may get tokens, and a token seen before be introspected from
// memory, for as long as the caches are trusted.
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/services/clients.js';
import { basicAuth, FORM, form } from '../routes/support.js';
import {
  ANSWER_WITHIN_MS,
  eventually,
  expectAnswerWithinBound,
  expectEachRecovers,
  expectEnvelope503,
  expectOAuth503,
  type ProxiedApp,
  startProxiedApp,
  timed,
  until,
} from './support.js';

interface Endpoint {
  name: string;
  shape: 'envelope' | 'oauth';
  request: InjectOptions;
}

let testApp: ProxiedApp;
let clientId: string;
let clientSecret: string;

beforeAll(async () => {
  testApp = await startProxiedApp();
  const credentials = await newClientCredentials();
  clientId = credentials.client.clientId;
  clientSecret = credentials.clientSecret;
});
afterAll(async () => {
  await testApp?.close();
});

async function newClientCredentials() {
  const { client, clientSecret } = await createClient(
    testApp.db,
    testApp.config.CLIENT_SECRET_PEPPER,
    { name: 'Integrator' },
    'vitest',
  );
  return { client, clientSecret };
}

function inject(request: InjectOptions): Promise<LightMyRequestResponse> {
  return testApp.app.inject(request);
}

/** A token issued while the database is up (through the proxy, as every request of the app). */
async function issueToken(): Promise<string> {
  const response = await inject({ method: 'POST', url: '/api/auth/token', payload: { clientId, clientSecret } });
  expect(response.statusCode, response.body).toBe(200);
  return response.json().data.token as string;
}

/** Every endpoint that needs the database, with a request that succeeds while the database is up. */
async function endpoints(): Promise<Endpoint[]> {
  const [token, revocable] = [await issueToken(), await issueToken()];
  const basic = { ...FORM, authorization: basicAuth(clientId, clientSecret) };
  return [
    { name: 'GET /api/auth/health', shape: 'envelope', request: { method: 'GET', url: '/api/auth/health' } },
    {
      name: 'POST /api/auth/token',
      shape: 'envelope',
      request: { method: 'POST', url: '/api/auth/token', payload: { clientId, clientSecret } },
    },
    {
      name: 'GET /api/auth/token/info',
      shape: 'envelope',
      request: { method: 'GET', url: '/api/auth/token/info', headers: { authorization: `Bearer ${token}` } },
    },
    {
      name: 'POST /oauth/token',
      shape: 'oauth',
      request: {
        method: 'POST',
        url: '/oauth/token',
        headers: basic,
        payload: form({ grant_type: 'client_credentials' }),
      },
    },
    {
      name: 'POST /oauth/introspect',
      shape: 'oauth',
      request: { method: 'POST', url: '/oauth/introspect', headers: basic, payload: form({ token }) },
    },
    {
      name: 'POST /oauth/revoke',
      shape: 'oauth',
      request: { method: 'POST', url: '/oauth/revoke', headers: basic, payload: form({ token: revocable }) },
    },
  ];
}

/** Each endpoint answers 503 in its shape, with Retry-After, within the bound. */
async function expectAllUnavailable(list: Endpoint[]): Promise<void> {
  for (const endpoint of list) {
    const response = await expectAnswerWithinBound(inject(endpoint.request), endpoint.name);
    if (endpoint.shape === 'oauth') expectOAuth503(response, endpoint.name);
    else expectEnvelope503(response, endpoint.name);
  }
}

/** Each endpoint succeeds again within ~5 s, with the same app (no restart). */
async function expectAllRecover(list: Endpoint[]): Promise<void> {
  await expectEachRecovers(inject, list, () => 200);
}

/**
 * Waits until the app no longer serves the test client from its cache: its change feed has noticed that the database
 * went away (at once when connections are reset or terminated). Until then a cached client may still get a token,
 * its audit row waiting in memory.
 */
async function untilCacheStopsServing(): Promise<void> {
  await until(() => testApp.app.clientCache.peek(clientId) === undefined, 1_000);
}

/** What needs no database still works: the app is up, not wedged. */
async function expectAppAlive(): Promise<void> {
  expect((await inject({ method: 'GET', url: '/.well-known/jwks.json' })).statusCode).toBe(200);
  expect((await inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })).statusCode).toBe(200);
  expect((await inject({ method: 'POST', url: '/api/auth/token', payload: {} })).statusCode).toBe(400);
}

describe('while the database is up', () => {
  it('every flow works through the proxy', async () => {
    const list = await endpoints();
    for (const endpoint of list) {
      const response = await inject(endpoint.request);
      expect(response.statusCode, `${endpoint.name}: ${response.body}`).toBe(200);
    }
    expect(testApp.proxy.openConnections).toBeGreaterThan(0);
  });
});

describe('when the database goes away', () => {
  it('connections reset and new ones refused (crash): 503 everywhere within 3 s; recovers after restore', async () => {
    const list = await endpoints();
    testApp.proxy.cut('reset');
    try {
      await untilCacheStopsServing();
      await expectAllUnavailable(list);
      // Still down a moment later: the answers do not change, and nothing else breaks.
      await expectAllUnavailable(list.slice(0, 2));
      await expectAppAlive();
    } finally {
      testApp.proxy.restore();
    }
    await expectAllRecover(list);
  });

  it('server shutting down (backends terminated, new connections refused): 503 everywhere; recovers', async () => {
    const list = await endpoints();
    testApp.proxy.cut('refuse');
    try {
      expect(await testApp.terminateAppBackends()).toBeGreaterThan(0);
      await untilCacheStopsServing();
      await expectAllUnavailable(list);
      await expectAppAlive();
    } finally {
      testApp.proxy.restore();
    }
    await expectAllRecover(list);
  });

  it('backends terminated while the server stays up: never 500, at most a 503, and it recovers by itself', async () => {
    const list = await endpoints();
    for (const endpoint of list) {
      await testApp.terminateAppBackends();
      const outcome = await timed(inject(endpoint.request));
      expect(outcome.timedOut, endpoint.name).toBe(false);
      const response = outcome.value as LightMyRequestResponse;
      expect(outcome.millis, endpoint.name).toBeLessThan(ANSWER_WITHIN_MS);
      if (response.statusCode !== 200) {
        if (endpoint.shape === 'oauth') expectOAuth503(response, endpoint.name);
        else expectEnvelope503(response, endpoint.name);
      }
    }
    // No restore: the pool replaces the terminated connections on its own.
    await expectAllRecover(list);
  });

  it('server unreachable (connections time out): 503 after the connection timeout, within 3 s', async () => {
    const list = await endpoints();
    // Pooled connections close when terminated, so every request below has to open a new one. New connections are
    // refused meanwhile: the change feed reconnects at once, and its connection must not survive into the blackhole.
    testApp.proxy.cut('refuse');
    await testApp.terminateAppBackends();
    await until(() => testApp.proxy.openConnections === 0);
    testApp.proxy.cut('blackhole');
    try {
      for (const endpoint of list.slice(0, 2)) {
        const outcome = await timed(inject(endpoint.request));
        expect(outcome.timedOut, endpoint.name).toBe(false);
        expect(outcome.millis, endpoint.name).toBeGreaterThanOrEqual(400);
        expect(outcome.millis, endpoint.name).toBeLessThan(ANSWER_WITHIN_MS);
        expectEnvelope503(outcome.value as LightMyRequestResponse, endpoint.name);
      }
    } finally {
      testApp.proxy.restore();
    }
    await expectAllRecover(list);
  }, 15_000);

  // Regression: a network drop once left requests on pooled connections hanging for hours. `dbPlugin`
  // (packages/service-kit/src/db-plugin.ts) calls createPrismaClient without `statementTimeoutMillis` or
  // `queryTimeoutMillis`, so pg has no query read timeout; the connect timeout only covers new connections, and
  // `keepAlive: true` (packages/db/src/index.ts) without `keepAliveInitialDelayMillis` waits for the OS default
  // (tcp_keepalive_time 7200 s) before probing. Fix: give the pool a query timeout (e.g. a DATABASE_QUERY_TIMEOUT_MS
  // passed as `queryTimeoutMillis`; pg's "Query read timeout" is already classified as unavailable) and a short
  // keep-alive delay.
  it('network drop on a pooled connection: still 503 within 3 s', async () => {
    // A client this app has not cached, so that its token request has to go to the database.
    const { client, clientSecret: secret } = await newClientCredentials();
    // A connection is idle in the pool, as in any running service.
    expect((await inject({ method: 'GET', url: '/api/auth/health' })).statusCode).toBe(200);
    testApp.proxy.cut('blackhole');
    const pending = inject({
      method: 'POST',
      url: '/api/auth/token',
      payload: { clientId: client.clientId, clientSecret: secret },
    });
    try {
      const outcome = await timed(pending);
      expect(outcome.timedOut, 'POST /api/auth/token hangs on a pooled connection').toBe(false);
      expectEnvelope503(outcome.value as LightMyRequestResponse, 'POST /api/auth/token');
    } finally {
      // The stalled connection is reset, which ends the hanging request (with a 503).
      testApp.proxy.restore();
      await pending;
    }
  });
});

describe('the client cache when the network drops', () => {
  const tokenRequest: InjectOptions = { method: 'POST', url: '/api/auth/token', payload: {} };

  it('serves a cached client only while the change feed vouches for it (3 s), then 503; the audit row follows', async () => {
    tokenRequest.payload = { clientId, clientSecret };
    // The feed may still be reconnecting after the previous cuts: wait until the client is served from the cache.
    await until(async () => {
      await issueToken();
      return testApp.app.clientCache.peek(clientId) !== undefined;
    }, 15_000);
    testApp.proxy.cut('blackhole');
    const cutAt = Date.now();
    let servedJti: string;
    try {
      // Nothing reaches the database, yet the cached client gets its token (the audit row waits in memory)...
      const served = await inject(tokenRequest);
      expect(served.statusCode, served.body).toBe(200);
      servedJti = JSON.parse(Buffer.from(served.json().data.token.split('.')[1], 'base64url').toString()).jti;
      // ...until the feed's heartbeats go unanswered for its staleness bound (3 s): then the database is needed.
      await until(() => testApp.app.clientCache.peek(clientId) === undefined, 5_000);
      expect(Date.now() - cutAt).toBeLessThan(3_500);
      expectEnvelope503(await expectAnswerWithinBound(inject(tokenRequest), 'POST /api/auth/token'), 'after 3 s');
    } finally {
      testApp.proxy.restore();
    }
    await until(async () => {
      await testApp.app.tokenAudit.flush();
      return testApp.app.tokenAudit.pending === 0;
    });
    expect(await testApp.db.tokenAudit.findMany({ where: { tokenId: servedJti } })).toEqual([
      expect.objectContaining({ clientId, result: 'issued' }),
    ]);
  }, 30_000);
});

describe('a burst of token requests when the database goes away', () => {
  const jtiOf = (token: string) =>
    JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')).jti as string;

  it('answers 200, 401 or 503 (never 500), and no token is handed out without its audit row', async () => {
    const { client, clientSecret: secret } = await newClientCredentials();
    const basic = (password: string) => ({ ...FORM, authorization: basicAuth(client.clientId, password) });
    const seen: number[] = [];
    for (const progress of [1, 4, 10]) {
      let answered = 0;
      const requests = Array.from({ length: 24 }, (_, i) => {
        const password = i % 3 === 0 ? 'wrong-secret' : secret;
        const request =
          i % 2 === 0
            ? inject({
                method: 'POST',
                url: '/api/auth/token',
                payload: { clientId: client.clientId, clientSecret: password },
              })
            : inject({
                method: 'POST',
                url: '/oauth/token',
                headers: basic(password),
                payload: form({ grant_type: 'client_credentials' }),
              });
        return request.finally(() => {
          answered += 1;
        });
      });
      // Cut once the burst is under way: some requests are answered, some in flight (audit rows are written in
      // batches, so answers, not rows, tell how far it got).
      await until(() => answered >= progress).catch(() => {});
      testApp.proxy.cut('reset');
      await new Promise((resolve) => setTimeout(resolve, 30));
      testApp.proxy.restore();
      const responses = await Promise.all(requests);
      // Rows recorded while the database was away are written once it is back.
      await until(async () => {
        await testApp.app.tokenAudit.flush();
        return testApp.app.tokenAudit.pending === 0;
      });

      const statuses = responses.map((response) => response.statusCode);
      seen.push(...statuses);
      for (const response of responses) expect([200, 401, 503], response.body).toContain(response.statusCode);
      const issuedJtis = responses
        .filter((response) => response.statusCode === 200)
        .map((response) => jtiOf(response.json().data?.token ?? response.json().access_token));
      const rows = await testApp.db.tokenAudit.findMany({ where: { clientId: client.clientId } });
      const issuedRows = rows.filter((row) => row.result === 'issued');
      for (const row of issuedRows)
        expect(row.tokenId, 'an issued row without its tokenId').toEqual(expect.any(String));
      expect(new Set(issuedRows.map((row) => row.tokenId)).size).toBe(issuedRows.length);
      const audited = new Set(issuedRows.map((row) => row.tokenId));
      for (const jti of issuedJtis) expect(audited.has(jti), `token ${jti} was handed out without audit`).toBe(true);
      const failedRows = rows.filter((row) => row.result === 'failed').length;
      expect(failedRows).toBeGreaterThanOrEqual(statuses.filter((status) => status === 401).length);
    }
    // The cuts did land mid-burst: some requests were served, some were not.
    expect(seen).toContain(200);
    expect(seen).toContain(503);
    // Nothing left behind: the next request works and audits normally.
    await eventually(async () => {
      const response = await inject({
        method: 'POST',
        url: '/api/auth/token',
        payload: { clientId: client.clientId, clientSecret: secret },
      });
      return { ok: response.statusCode === 200, description: `${response.statusCode} ${response.body}` };
    });
    await testApp.app.tokenAudit.flush();
    const rows = await testApp.db.tokenAudit.findMany({ where: { result: 'issued' } });
    for (const row of rows) expect(row.tokenId).toEqual(expect.any(String));
  });
});
