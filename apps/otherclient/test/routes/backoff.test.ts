import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type OtherclientApp } from '../../src/app.js';
import { loadOtherclientConfig } from '../../src/config.js';
import { testEnv } from '../helpers.js';
import {
  atTime,
  basicAuth,
  FORM,
  form,
  freshIp,
  newClient,
  stableHeaders,
  startApp,
  type TestApp,
  type TestClient,
  untilNotified,
} from './support.js';

// The defaults: 5 failures, first lock 30 s, doubling up to 900 s, forgotten after 900 s.
const SECOND = 1_000;
const INVALID_CREDENTIALS = { code: 401, status: 'error', message: 'Credenciales inválidas' };

describe('brute-force backoff of the token endpoints', () => {
  let testApp: TestApp;
  /** A second instance of the service on the same database (another replica). */
  let replica: OtherclientApp;
  let clock = Date.parse('2031-06-01T08:00:00.000Z');
  beforeAll(async () => {
    testApp = await startApp({ RATE_LIMIT_CREDENTIALS_PER_MINUTE: '100000' });
    replica = await buildApp(
      loadOtherclientConfig(
        testEnv(testApp.config.DATABASE_URL, {
          DATA_DIR: testApp.config.DATA_DIR,
          RATE_LIMIT_CREDENTIALS_PER_MINUTE: '100000',
        }),
      ),
    );
  });
  afterAll(async () => {
    await replica?.close();
    await testApp?.close();
  });

  /** A start time of its own for each test, an hour after the previous one. */
  function newClock(): number {
    clock += 3_600 * SECOND;
    return clock;
  }

  function apiToken(clientId: string, clientSecret: string, app = testApp.app, remoteAddress = freshIp()) {
    return app.inject({ method: 'POST', url: '/api/auth/token', remoteAddress, payload: { clientId, clientSecret } });
  }

  function oauth(
    endpoint: 'token' | 'introspect' | 'revoke',
    clientId: string,
    clientSecret: string,
    remoteAddress = freshIp(),
  ) {
    const parameters: Record<string, string> =
      endpoint === 'token' ? { grant_type: 'client_credentials' } : { token: 'x' };
    return testApp.app.inject({
      method: 'POST',
      url: `/oauth/${endpoint}`,
      remoteAddress,
      headers: { ...FORM, authorization: basicAuth(clientId, clientSecret) },
      payload: form(parameters),
    });
  }

  /** Status, body and headers, but those that differ on every response by design (and the per-address counters). */
  function answer(response: LightMyRequestResponse) {
    const headers = Object.fromEntries(
      Object.entries(stableHeaders(response.headers)).filter(([name]) => !name.startsWith('x-ratelimit-')),
    );
    return { status: response.statusCode, body: response.body, headers };
  }

  async function statuses(count: number, send: () => Promise<LightMyRequestResponse>) {
    const out = [];
    for (let i = 0; i < count; i++) out.push((await send()).statusCode);
    return out;
  }

  /** The audit reasons of a client id, sorted (rows written within one millisecond have no reliable order). */
  async function auditReasons(clientId: string) {
    await Promise.all([testApp.app.tokenAudit.flush(), replica.tokenAudit.flush()]);
    const rows = await testApp.db.tokenAudit.findMany({ where: { clientId }, select: { reason: true } });
    return rows.map((row) => row.reason ?? '').sort();
  }

  /** `reasons` sorted, to compare with {@link auditReasons}. */
  function sorted(...reasons: string[]) {
    return reasons.sort();
  }

  it('after 5 failures refuses the right secret with exactly the answer of a wrong one, and audits the lock', async () => {
    const client = await newClient(testApp);
    await atTime(newClock(), async () => {
      expect(await statuses(5, () => apiToken(client.clientId, 'wrong'))).toEqual([401, 401, 401, 401, 401]);
      const wrong = await apiToken(client.clientId, 'wrong');
      const locked = await apiToken(client.clientId, client.clientSecret);
      expect(locked.statusCode).toBe(401);
      expect(locked.json()).toEqual(INVALID_CREDENTIALS);
      expect(answer(locked)).toEqual(answer(wrong));
      expect(locked.headers['retry-after']).toBeUndefined();
    });
    expect(await auditReasons(client.clientId)).toEqual(
      sorted(...Array(5).fill('bad_secret'), 'client_locked', 'locked', 'locked'),
    );
    await testApp.app.tokenAudit.flush();
    const rows = await testApp.db.tokenAudit.findMany({ where: { clientId: client.clientId } });
    expect(rows.every((row) => row.result === 'failed' && row.grantType === 'api_token' && !row.tokenId)).toBe(true);
  });

  it('shares one counter between /api/auth/token and the OAuth endpoints, refusing with invalid_client', async () => {
    const client = await newClient(testApp);
    await atTime(newClock(), async () => {
      await statuses(3, () => apiToken(client.clientId, 'wrong'));
      await statuses(2, () => oauth('token', client.clientId, 'wrong'));
      const wrong = await oauth('token', client.clientId, 'wrong');
      for (const endpoint of ['token', 'introspect', 'revoke'] as const) {
        const locked = await oauth(endpoint, client.clientId, client.clientSecret);
        expect(locked.statusCode).toBe(401);
        expect(locked.json().error).toBe('invalid_client');
        expect(answer(locked)).toEqual(answer(wrong));
      }
      expect((await apiToken(client.clientId, client.clientSecret)).json()).toEqual(INVALID_CREDENTIALS);
    });
    await testApp.app.tokenAudit.flush();
    const rows = await testApp.db.tokenAudit.findMany({
      where: { clientId: client.clientId, reason: { in: ['client_locked', 'locked'] } },
    });
    expect(rows.map((row) => `${row.reason} ${row.grantType}`).sort()).toEqual(
      sorted(
        'client_locked client_credentials',
        'locked client_credentials',
        'locked client_credentials',
        'locked introspection',
        'locked revocation',
        'locked api_token',
      ),
    );
  });

  it('lets the right secret in once the lock has ended, and a success forgets the failures', async () => {
    const client = await newClient(testApp);
    const start = newClock();
    await atTime(start, () => statuses(5, () => apiToken(client.clientId, 'wrong')));
    await atTime(start + 29 * SECOND, async () => {
      expect((await oauth('token', client.clientId, client.clientSecret)).statusCode).toBe(401);
    });
    await atTime(start + 30 * SECOND, async () => {
      expect((await oauth('token', client.clientId, client.clientSecret)).statusCode).toBe(200);
      expect(await statuses(4, () => apiToken(client.clientId, 'wrong'))).toEqual([401, 401, 401, 401]);
      expect((await apiToken(client.clientId, client.clientSecret)).statusCode).toBe(200);
    });
  });

  it('makes each further lock longer, up to the maximum, and forgets failures after the reset time', async () => {
    const client = await newClient(testApp);
    let now = newClock();
    for (const seconds of [30, 60, 120, 240, 480, 900, 900]) {
      await atTime(now, () => statuses(5, () => apiToken(client.clientId, 'wrong')));
      await atTime(now + (seconds - 1) * SECOND, async () => {
        expect((await apiToken(client.clientId, client.clientSecret)).statusCode).toBe(401);
      });
      now += seconds * SECOND;
    }
    // 900 s after the last lock ended, four failures no longer add to anything.
    await atTime(now + 900 * SECOND, async () => {
      await statuses(4, () => apiToken(client.clientId, 'wrong'));
    });
    await atTime(now + 1_800 * SECOND, async () => {
      await statuses(4, () => apiToken(client.clientId, 'wrong'));
      expect((await apiToken(client.clientId, client.clientSecret)).statusCode).toBe(200);
    });
    expect((await auditReasons(client.clientId)).filter((reason) => reason === 'client_locked')).toHaveLength(7);
  });

  it('counts 20 simultaneous failures exactly: 5 checked, 15 refused as locked, one lock', async () => {
    const client = await newClient(testApp);
    await atTime(newClock(), async () => {
      const responses = await Promise.all(Array.from({ length: 20 }, () => apiToken(client.clientId, 'wrong')));
      expect(responses.map((response) => response.statusCode)).toEqual(Array(20).fill(401));
    });
    const reasons = await auditReasons(client.clientId);
    expect(reasons.filter((reason) => reason === 'bad_secret')).toHaveLength(5);
    expect(reasons.filter((reason) => reason === 'locked')).toHaveLength(15);
    expect(reasons.filter((reason) => reason === 'client_locked')).toHaveLength(1);
  });

  it('shares the state between two instances on one database', async () => {
    const client = await newClient(testApp);
    await atTime(newClock(), async () => {
      await statuses(3, () => apiToken(client.clientId, 'wrong', testApp.app));
      await statuses(2, () => apiToken(client.clientId, 'wrong', replica));
      expect((await apiToken(client.clientId, client.clientSecret, testApp.app)).statusCode).toBe(401);
      expect((await apiToken(client.clientId, client.clientSecret, replica)).statusCode).toBe(401);
    });
    expect(await auditReasons(client.clientId)).toEqual(
      sorted(...Array(5).fill('bad_secret'), 'client_locked', 'locked', 'locked'),
    );
  });

  it('honours a lock started on another instance once notified, for a client this one had cached', async () => {
    const client = await newClient(testApp);
    await atTime(newClock(), async () => {
      // Until this instance serves the client from its cache (a read overlapping any notification is not cached).
      for (let i = 0; i < 50 && testApp.app.clientCache.peek(client.clientId) === undefined; i++) {
        expect((await apiToken(client.clientId, client.clientSecret)).statusCode).toBe(200);
      }
      expect(testApp.app.clientCache.peek(client.clientId)).toBeDefined();
      expect(await statuses(5, () => apiToken(client.clientId, 'wrong', replica))).toEqual(Array(5).fill(401));
      await untilNotified(testApp, client.clientId);
      expect((await apiToken(client.clientId, client.clientSecret, testApp.app)).statusCode).toBe(401);
    });
    expect((await auditReasons(client.clientId)).filter((reason) => reason !== 'current_secret')).toEqual(
      sorted(...Array(5).fill('bad_secret'), 'client_locked', 'locked'),
    );
  });

  it('throttles an unknown client id exactly like a known one', async () => {
    const known: TestClient = await newClient(testApp);
    const unknown = '019a0000-0000-7000-8000-000000000000';
    const start = newClock();
    const run = (clientId: string, secret: string) =>
      atTime(start, async () => {
        const answers = [];
        for (let i = 0; i < 5; i++) answers.push(answer(await apiToken(clientId, 'wrong')));
        answers.push(answer(await apiToken(clientId, secret)));
        answers.push(answer(await oauth('token', clientId, secret)));
        return answers;
      });
    expect(await run(unknown, 'whatever')).toEqual(await run(known.clientId, known.clientSecret));
    expect(await auditReasons(unknown)).toEqual(
      sorted(...Array(5).fill('unknown_client'), 'client_locked', 'locked', 'locked'),
    );
  });

  it('does not count malformed client authentication (no secret was checked)', async () => {
    const client = await newClient(testApp);
    await atTime(newClock(), async () => {
      for (let i = 0; i < 6; i++) {
        const response = await testApp.app.inject({
          method: 'POST',
          url: '/oauth/token',
          remoteAddress: freshIp(),
          headers: FORM,
          payload: form({ grant_type: 'client_credentials', client_id: client.clientId }),
        });
        expect(response.statusCode).toBe(401);
      }
      expect((await apiToken(client.clientId, client.clientSecret)).statusCode).toBe(200);
    });
  });
});
