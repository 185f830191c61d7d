// The product as docker-compose.yml deploys it, on loopback: Debian's nginx running the committed
// deploy/nginx/nginx.conf (only its `listen` changed) in front of two processes of each service, in production
// configuration, on one PostgreSQL database. Every flow goes through nginx as a client would; the checks that need to
// know which instance answered read nginx's access log (by X-Request-Id) or call an instance directly.
//
// Needs nginx: `bash e2e/scripts/ensure-nginx.sh` (run by .ci/run) provides Debian's; without it the test fails and
// says how to get it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  FlowStepError,
  integratorFlow,
  type Json,
  login,
  type Session,
  ssoFlow,
  step,
  validate,
} from '../support/flows.js';
import { basicAuthorization, HttpClient, newRequestId } from '../support/http.js';
import type { AccessLogEntry } from '../support/nginx.js';
import { pollUntil } from '../support/processes.js';
import { type ServiceInstance, type Stack, startStack } from '../support/stack.js';

/** The bound: a logout on one auth-service instance is refused by `validate` on the other within a second. */
const REFUSAL_LIMIT_MS = 1_000;

const fileStartedAt = performance.now();
/** Figures worth reading in CI logs, printed once at the end. */
const measured: Record<string, unknown> = {};
let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
  measured.startupMs = Math.round(stack.startupMs);
});

afterAll(async () => {
  await stack?.stop();
  measured.fileMs = Math.round(performance.now() - fileStartedAt);
  console.info(`[e2e ingress] ${JSON.stringify(measured)}`);
});

beforeEach(({ onTestFailed }) => {
  // The processes' own words are what explains an end-to-end failure.
  onTestFailed(() => {
    if (stack) console.error(stack.diagnostics());
  });
});

const addresses = (instances: readonly ServiceInstance[]) => instances.map((instance) => instance.address);

/** The request line the service wrote for a request id (one line per request, JSON), with the instance that wrote it. */
async function serviceRequestLine(instances: readonly ServiceInstance[], requestId: string) {
  return pollUntil(
    `request line of ${requestId} in ${instances.map((instance) => instance.name).join(', ')}`,
    async () => {
      for (const instance of instances) {
        for (const text of instance.process.stdoutLines()) {
          if (!text.includes(requestId)) continue;
          const line = parseJsonLine(text);
          if (line?.msg === 'request completed' && line.reqId === requestId) return { instance, line };
        }
      }
      return undefined;
    },
    { timeoutMs: 3_000, intervalMs: 10 },
  );
}

function parseJsonLine(text: string): Json | undefined {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
}

async function getJson(client: HttpClient, path: string): Promise<Json> {
  return (await step(client, `GET ${path}`, path, {}, 200)).body;
}

async function verifyWithPublishedKeys(token: string, jwksPath: string, issuer: string) {
  const jwks = (await getJson(stack.client, jwksPath)) as unknown as JSONWebKeySet;
  return (await jwtVerify(token, createLocalJWKSet(jwks), { issuer, typ: 'at+jwt' })).payload;
}

describe('the ingress configuration', () => {
  it('is the committed deploy/nginx/nginx.conf with only its listen line changed', () => {
    const { ingress } = stack;
    expect(readFileSync(join(ingress.dir, 'nginx.conf'), 'utf8')).toBe(ingress.confCopy);
    const original = ingress.originalConf.split('\n');
    const copy = ingress.confCopy.split('\n');
    expect(copy).toHaveLength(original.length);
    const changed = original.flatMap((line, index) => (line === copy[index] ? [] : [[line, copy[index]]]));
    expect(changed).toEqual([['        listen 80;', `        listen 127.0.0.1:${new URL(ingress.baseUrl).port};`]]);
  });

  it('routes each prefix to its service, unchanged, and answers everything else itself with 404', async () => {
    const routes: Array<[string, readonly ServiceInstance[]]> = [
      ['/api/auth/health', stack.otherclient],
      ['/.well-known/oauth-authorization-server', stack.otherclient],
      ['/.well-known/jwks.json', stack.otherclient],
      ['/api/auth/.well-known/jwks.json', stack.otherclient],
      ['/auth/health', stack.authService],
      ['/auth/.well-known/jwks.json', stack.authService],
    ];
    for (const [path, instances] of routes) {
      const response = await stack.client.send(path);
      expect(response.status, `${path}: ${response.text}`).toBe(200);
      const entry = await stack.ingress.logEntry(response.requestId);
      expect(addresses(instances), path).toContain(entry.upstreams[0]);
      // The service saw the path as the client sent it (no prefix stripped).
      const { line } = await serviceRequestLine(instances, response.requestId);
      expect(line.url).toBe(path);
    }

    // Metrics endpoints are never reachable from outside, whatever the prefix or spelling; nor is anything unrouted.
    const refused = [
      '/metrics',
      '/auth/metrics',
      '/api/auth/metrics',
      '/api/auth/Metrics/x',
      '/oauth/metrics',
      '/.well-known/metrics',
      '/auth/../metrics',
      '/auth/%2e%2e/metrics',
      '/',
      '/docs',
      '/elsewhere/auth/health',
    ];
    for (const path of refused) {
      const response = await stack.client.send(path);
      expect(response.status, path).toBe(404);
      const entry = await stack.ingress.logEntry(response.requestId);
      expect(entry.upstreams, `${path} must not reach a service`).toEqual([]);
    }
    // The metrics exist, on each instance's own port, which no route of the ingress leads to.
    for (const instance of [...stack.otherclient, ...stack.authService]) {
      const scraper = new HttpClient(`http://127.0.0.1:${instance.metricsPort}`);
      const metrics = await scraper.send('/metrics').finally(() => scraper.close());
      expect(metrics.status, instance.name).toBe(200);
      expect(metrics.text).toContain('http_request_duration_seconds');
    }
  });

  it("returns X-Request-Id, the caller's when it is a plain id, and the service logs the same id", async () => {
    const own = 'trace-42:e2e.ingress_check';
    const passed = await stack.client.send('/auth/health', { requestId: own });
    expect(passed.headers['x-request-id']).toBe(own);
    // Exactly one header: the service's own X-Request-Id is hidden and nginx adds its value once.
    expect(passed.rawHeaders.filter((name) => name.toLowerCase() === 'x-request-id')).toHaveLength(1);
    expect((await serviceRequestLine(stack.authService, own)).line.reqId).toBe(own);

    for (const unusable of ['has spaces in it', 'x'.repeat(129), 'semi;colon']) {
      const replaced = await stack.client.send('/api/auth/health', { requestId: unusable });
      const generated = String(replaced.headers['x-request-id']);
      expect(generated, unusable).toMatch(/^[0-9a-f]{32}$/);
      expect((await serviceRequestLine(stack.otherclient, generated)).line.reqId).toBe(generated);
    }
  });

  it('balances over both instances of each service', async () => {
    for (const [path, instances] of [
      ['/api/auth/health', stack.otherclient],
      ['/auth/health', stack.authService],
    ] as const) {
      const served = new Set<string>();
      for (let index = 0; index < 6; index++) {
        const response = await stack.client.send(path);
        expect(response.status).toBe(200);
        served.add((await stack.ingress.logEntry(response.requestId)).upstreams[0] ?? '-');
      }
      expect([...served].sort()).toEqual(addresses(instances).sort());
    }
  });
});

describe('the integrator flow through the ingress', () => {
  it('token, token info, OAuth grant and introspection; tokens verify with the keys published at the JWKS', async () => {
    const { apiClient, issuers } = stack;
    const tokens = await integratorFlow(stack.client, apiClient);

    // RFC 8414 metadata names the ingress (the configured issuer), and its jwks_uri is served through it.
    const metadata = await getJson(stack.client, '/.well-known/oauth-authorization-server');
    expect(metadata.issuer).toBe(issuers.otherclient);
    expect(metadata.jwks_uri).toBe(`${stack.ingress.baseUrl}/.well-known/jwks.json`);
    for (const token of [tokens.apiToken, tokens.oauthToken]) {
      const claims = await verifyWithPublishedKeys(token, '/.well-known/jwks.json', issuers.otherclient);
      expect(claims).toMatchObject({ sub: apiClient.clientId, client_id: apiClient.clientId, scope: 'orders:read' });
    }
    // Both instances publish the same keys (one secret file), so either verifies what the other signed.
    const [a, b] = stack.otherclient;
    expect(await getJson(b.direct, '/.well-known/jwks.json')).toEqual(
      await getJson(a.direct, '/.well-known/jwks.json'),
    );

    // Revoked through the ingress (either instance), then refused by introspection on both: at once on the instance
    // that revoked, and on the other once PostgreSQL's notification of the revocation reaches it (each instance
    // caches whether the tokens it introspected were revoked; milliseconds, at most the change feed's 3 s).
    const basic = { authorization: basicAuthorization(apiClient.clientId, apiClient.clientSecret) };
    await step(
      stack.client,
      'POST /oauth/revoke',
      '/oauth/revoke',
      { headers: basic, form: { token: tokens.oauthToken } },
      200,
    );
    for (const instance of stack.otherclient) {
      const refused = await pollUntil(
        `introspection on ${instance.name} refuses the revoked token`,
        async () => {
          const { body } = await step(
            instance.direct,
            `introspect on ${instance.name}`,
            '/oauth/introspect',
            { headers: basic, form: { token: tokens.oauthToken } },
            200,
          );
          return body.active === false ? body : undefined;
        },
        { timeoutMs: 3_000, intervalMs: 5 },
      );
      expect(refused).toEqual({ active: false });
    }

    // The specification's error bodies pass through the ingress unchanged.
    const unknown = await stack.client.send('/api/auth/token', {
      json: { clientId: 'no-such-client', clientSecret: 'whatever' },
    });
    expect(unknown.status).toBe(401);
    expect(unknown.json).toEqual({ code: 401, status: 'error', message: 'Credenciales inválidas' });
    const incomplete = await stack.client.send('/api/auth/token', { json: {} });
    expect(incomplete.status).toBe(400);
    expect(incomplete.json).toMatchObject({ code: 400, status: 'error', message: 'Error en la validación de datos' });
  });
});

describe('the SSO flow through the ingress', () => {
  /** Validates through nginx until each instance has refused the token once; how long that took. */
  async function refusedByEveryInstance(token: string): Promise<number> {
    const startedAt = performance.now();
    const refusedBy = new Set<string>();
    await pollUntil(
      'validate refused by both auth-service instances',
      async () => {
        const response = await stack.client.send('/auth/token/validate', { method: 'POST', bearer: token });
        const entry = await stack.ingress.logEntry(response.requestId);
        if (response.status === 401) refusedBy.add(entry.upstreams.at(-1) ?? '-');
        return refusedBy.size === 2 ? true : undefined;
      },
      { timeoutMs: REFUSAL_LIMIT_MS, intervalMs: 0 },
    );
    return performance.now() - startedAt;
  }

  it('verify, login, validate, session, sessions, refresh, attempts, logs, logout: each step on either instance', async () => {
    const { account, applicationId, issuers } = stack;
    // From another loopback address with a forged X-Forwarded-For: nginx replaces the header with the address it
    // saw, and the services (TRUST_PROXY=1) record that one.
    const client = { localAddress: '127.0.0.2', headers: { 'x-forwarded-for': '203.0.113.7' } };

    const { body: verified } = await step(
      stack.client,
      'POST /auth/verify',
      '/auth/verify',
      {
        ...client,
        json: { username: account.username, password: account.password },
      },
      200,
    );
    expect(verified).toEqual({ user_id: account.userId, status: 'success', validated_by: 'credentials' });

    const loginId = newRequestId();
    const session: Session = await login(stack.client, account, applicationId, { ...client, requestId: loginId });
    expect((await stack.ingress.logEntry(loginId)).clientAddress).toBe('127.0.0.2');
    // The service's request line holds the address nginx forwarded, not the forged one.
    expect((await serviceRequestLine(stack.authService, loginId)).line.ip).toBe('127.0.0.2');

    const { body: valid } = await validate(stack.client, session.access_token);
    expect(valid).toMatchObject({
      valid: true,
      user_id: account.userId,
      application_id: applicationId,
      session_id: session.session_id,
    });

    const me = await step(
      stack.client,
      'GET /auth/session/me',
      '/auth/session/me',
      { bearer: session.access_token },
      200,
    );
    expect(me.body).toMatchObject({
      user_id: account.userId,
      session_id: session.session_id,
      application_id: applicationId,
      device_info: { device: 'e2e', platform: 'node' },
    });

    const sessions = await step(
      stack.client,
      'GET /auth/sessions',
      '/auth/sessions',
      { bearer: session.access_token },
      200,
    );
    const current = (sessions.response.json as Json[]).find((entry) => entry.session_id === session.session_id);
    expect(current).toMatchObject({ current: true, ip: '127.0.0.2', application_id: applicationId });

    const { body: refreshed } = await step(
      stack.client,
      'POST /auth/token/refresh',
      '/auth/token/refresh',
      {
        json: { refresh_token: session.refresh_token },
      },
      200,
    );
    expect(refreshed.refresh_token).not.toBe(session.refresh_token);
    const accessToken = String(refreshed.access_token);
    await validate(stack.client, accessToken);
    // The spent refresh token is refused on whichever instance gets it (rotation is recorded in the database).
    await step(
      stack.client,
      'reuse of the spent refresh token',
      '/auth/token/refresh',
      {
        json: { refresh_token: session.refresh_token },
      },
      401,
    );

    const { body: attempt } = await step(
      stack.client,
      'POST /auth/attempts',
      '/auth/attempts',
      {
        json: { identifier: account.username, method: 'credentials', success: false, reason: 'e2e-observed' },
      },
      201,
    );
    expect(attempt).toMatchObject({ recorded: true });

    const logs = await step(stack.client, 'GET /auth/logs', '/auth/logs?limit=50', { bearer: accessToken }, 200);
    const ofSession = (logs.response.json as Json[]).filter((entry) => entry.session_id === session.session_id);
    expect(ofSession.map((entry) => entry.action)).toEqual(expect.arrayContaining(['login', 'refresh']));
    expect(ofSession.find((entry) => entry.action === 'login')).toMatchObject({ success: true, ip: '127.0.0.2' });

    const claims = await verifyWithPublishedKeys(accessToken, '/auth/.well-known/jwks.json', issuers['auth-service']);
    expect(claims).toMatchObject({ sub: account.userId, sid: session.session_id, aud: applicationId });

    const { body: loggedOut } = await step(
      stack.client,
      'POST /auth/logout',
      '/auth/logout',
      {
        method: 'POST',
        bearer: accessToken,
      },
      200,
    );
    expect(loggedOut).toEqual({ message: 'Session and tokens revoked successfully' });
    measured.logoutRefusedByBothThroughIngressMs = Math.round(await refusedByEveryInstance(accessToken));
    await step(
      stack.client,
      'refresh after logout',
      '/auth/token/refresh',
      {
        json: { refresh_token: String(refreshed.refresh_token) },
      },
      401,
    );
  });

  it('also holds in its short form, the one the stop test repeats', async () => {
    await ssoFlow(stack.client, stack.account, stack.applicationId);
  });
});

describe('a logout on one auth-service instance', () => {
  /**
   * Logs in on `from`, has `to` validate the token (so that it caches the session and the verified token: a cold
   * instance would read the database and prove nothing), logs out on `from`, then validates on `to` back to back until
   * refused. The milliseconds from the logout's answer to the refusal.
   */
  async function refusalDelay(from: ServiceInstance, to: ServiceInstance): Promise<number> {
    const session = await login(from.direct, stack.account, stack.applicationId);
    await validate(to.direct, session.access_token);
    await validate(to.direct, session.access_token);
    await step(
      from.direct,
      `logout on ${from.name}`,
      '/auth/logout',
      { method: 'POST', bearer: session.access_token },
      200,
    );
    const loggedOutAt = performance.now();
    await pollUntil(
      `validate on ${to.name} refusing the token after the logout on ${from.name}`,
      async () => {
        const response = await to.direct.send('/auth/token/validate', { method: 'POST', bearer: session.access_token });
        if (response.status === 401) return true;
        if (response.status !== 200) throw new Error(`validate answered ${response.status} ${response.text}`);
        return undefined;
      },
      { timeoutMs: 5_000, intervalMs: 0 },
    );
    return performance.now() - loggedOutAt;
  }

  it('is refused by validate on the other within a second, both ways', async () => {
    const [a, b] = stack.authService;
    const aToB = await refusalDelay(a, b);
    const bToA = await refusalDelay(b, a);
    measured.logoutRefusedByOtherInstanceMs = { aToB: Number(aToB.toFixed(1)), bToA: Number(bToA.toFixed(1)) };
    expect(aToB).toBeLessThan(REFUSAL_LIMIT_MS);
    expect(bToA).toBeLessThan(REFUSAL_LIMIT_MS);
  });

  it('through the ingress: the instance that did not serve the logout refuses within a second', async () => {
    const session = await login(stack.client, stack.account, stack.applicationId);
    // Both instances validate (and cache) the token first.
    const warmed = new Set<string>();
    await pollUntil(
      'both instances validating the token',
      async () => {
        const { response } = await validate(stack.client, session.access_token);
        warmed.add((await stack.ingress.logEntry(response.requestId)).upstreams.at(-1) ?? '-');
        return warmed.size === 2 ? true : undefined;
      },
      { timeoutMs: 5_000, intervalMs: 0 },
    );
    const { response } = await step(
      stack.client,
      'POST /auth/logout',
      '/auth/logout',
      {
        method: 'POST',
        bearer: session.access_token,
      },
      200,
    );
    const loggedOutAt = performance.now();
    const servedBy = (await stack.ingress.logEntry(response.requestId)).upstreams.at(-1);
    const other = stack.authService.find((instance) => instance.address !== servedBy);
    if (!other) throw new Error(`the logout was served by ${servedBy}, which is not an auth-service instance`);

    const answers: Array<{ by: string; status: number }> = [];
    await pollUntil(
      `validate through the ingress refused by ${other.name}`,
      async () => {
        const validated = await stack.client.send('/auth/token/validate', {
          method: 'POST',
          bearer: session.access_token,
        });
        const by = (await stack.ingress.logEntry(validated.requestId)).upstreams.at(-1) ?? '-';
        answers.push({ by, status: validated.status });
        return by === other.address && validated.status === 401 ? true : undefined;
      },
      { timeoutMs: REFUSAL_LIMIT_MS, intervalMs: 0 },
    );
    measured.logoutRefusedByOtherThroughIngressMs = Number((performance.now() - loggedOutAt).toFixed(1));
    // The instance that made the logout never accepted the token again.
    expect(answers.filter((answer) => answer.by === servedBy && answer.status !== 401)).toEqual([]);
  });
});

interface FlowRecord {
  kind: 'integrator' | 'sso';
  startedAt: number;
  error?: Error;
}

/**
 * Flows run at once during the stop test, each one request at a time. Kept below BACKOFF_MAX_FAILURES (5): every
 * worker signs the same account in, and the auth-service counts a sign-in before checking its password, so five
 * concurrent sign-ins of one account can reach the lock and be refused, right password or not (seen with 12).
 */
const WORKERS = 4;
describe('one instance of each service stopped mid-run', () => {
  /** nginx's error-log lines of connections to `instance` that it reset or closed before answering. */
  const resetsLogged = (instance: ServiceInstance) =>
    stack.ingress
      .errorLog()
      .filter(
        (line) =>
          line.includes(`upstream: "http://${instance.address}/`) &&
          /Connection reset by peer|prematurely closed/.test(line),
      );

  it('every flow keeps working through the other instance', async () => {
    const records: FlowRecord[] = [];
    let keepGoing = true;
    const worker = async (index: number) => {
      for (let round = 0; keepGoing; round++) {
        const kind = (index + round) % 2 === 0 ? 'integrator' : 'sso';
        const startedAt = performance.now();
        try {
          if (kind === 'integrator') await integratorFlow(stack.client, stack.apiClient);
          else await ssoFlow(stack.client, stack.account, stack.applicationId);
          records.push({ kind, startedAt });
        } catch (error) {
          records.push({ kind, startedAt, error: error as Error });
        }
      }
    };
    const completedSince = (at: number, kind: FlowRecord['kind']) =>
      records.filter((record) => record.kind === kind && record.startedAt >= at && !record.error).length;

    const workers = Array.from({ length: WORKERS }, (_, index) => worker(index));
    const [otherclientA] = stack.otherclient;
    const [authServiceA] = stack.authService;
    const stopped = [otherclientA, authServiceA];
    const exitedAt = new Map<ServiceInstance, number>();
    let stopSentAt = Number.NaN;
    let stoppedAt = Number.NaN;
    try {
      await pollUntil(
        'flows running before the stop',
        async () => (completedSince(0, 'integrator') >= 5 && completedSince(0, 'sso') >= 5 ? true : undefined),
        { timeoutMs: 20_000 },
      );
      stopSentAt = performance.now();
      // SIGTERM, as `docker compose stop` sends: close-with-grace closes the app, which stops listening and lets the
      // requests in progress finish before the database is closed.
      const exits = await Promise.all(
        stopped.map(async (instance) => {
          const status = await instance.process.stop('SIGTERM');
          exitedAt.set(instance, performance.now());
          return status;
        }),
      );
      stoppedAt = performance.now();
      expect(exits, 'both instances shut down cleanly').toEqual([0, 0]);
      // Long enough for nginx to try each stopped instance again once its fail_timeout (2 s) has passed.
      await pollUntil(
        'flows completed after the stop',
        async () =>
          performance.now() - stoppedAt > 2_500 &&
          completedSince(stoppedAt, 'integrator') >= 10 &&
          completedSince(stoppedAt, 'sso') >= 10
            ? true
            : undefined,
        { timeoutMs: 30_000 },
      );
    } finally {
      keepGoing = false;
      await Promise.all(workers);
    }

    const failures = records.filter((record) => record.error);
    const explain = (record: FlowRecord) => {
      const error = record.error as Error;
      if (!(error instanceof FlowStepError)) return `${record.kind} flow: ${error.message}`;
      const entry = stack.ingress.accessLog().find((line) => line.requestId === error.requestId);
      return `${record.kind} flow, ${Math.round(error.at - stopSentAt)} ms after SIGTERM: ${error.message} | nginx: ${entry?.line ?? '(no access-log line)'}`;
    };
    const stoppedAddresses = addresses(stopped);
    // Requests nginx tried on a stopped instance first and then passed to the live one.
    const retried = stack.ingress
      .accessLog()
      .filter((entry) => entry.upstreams.length > 1 && stoppedAddresses.includes(entry.upstreams[0] ?? ''));
    const retriedFrom = (instance: ServiceInstance) =>
      retried.filter((entry) => entry.upstreams[0] === instance.address && entry.upstreamStatuses[0] === '502');
    measured.stop = {
      flowsBefore: records.filter((record) => record.startedAt < stopSentAt && !record.error).length,
      flowsAfter: records.filter((record) => record.startedAt >= stoppedAt && !record.error).length,
      failures: failures.length,
      resetsLogged: stopped.flatMap(resetsLogged).map((line) => line.replace(/^.*?\[error\] /, '')),
      shutdownMs: Object.fromEntries(stopped.map((i) => [i.name, Math.round((exitedAt.get(i) ?? 0) - stopSentAt)])),
      retriedOnTheOtherInstance: {
        otherclient: countByMethod(retriedFrom(otherclientA)),
        authService: countByMethod(retriedFrom(authServiceA)),
      },
    };

    // Not one flow fails: a request refused by the stopping instance, or reset by it before it was read (a connection
    // still in its accept queue when it stopped listening), is passed on to the other (nginx.conf's
    // `proxy_next_upstream ... non_idempotent`), and what it had read it answers before exiting.
    expect(failures.map(explain), 'flows that failed').toEqual([]);
    expect(completedSince(stoppedAt, 'integrator')).toBeGreaterThanOrEqual(10);
    expect(completedSince(stoppedAt, 'sso')).toBeGreaterThanOrEqual(10);
    // The stopped instances were tried after the stop and those requests went on to the live ones: the flows kept
    // working because nginx passed them on, not because it happened to avoid the stopped instances.
    expect(retriedFrom(otherclientA).length).toBeGreaterThan(0);
    expect(retriedFrom(authServiceA).length).toBeGreaterThan(0);
  }, 120_000); // up to 20 s of flows before the stop, 15 s for it, 30 s of flows after: above the 60 s default

  it('a POST whose connection is refused goes to the other instance (nginx retries it: nothing was sent yet)', async () => {
    const [otherclientA, otherclientB] = stack.otherclient;
    const [authServiceA, authServiceB] = stack.authService;
    expect(otherclientA.process.hasExited() && authServiceA.process.hasExited()).toBe(true);
    const session = await login(stack.client, stack.account, stack.applicationId);
    // Repeated until nginx tries the stopped instance again (each nginx worker does once per fail_timeout, 2 s).
    const retriedPost = async (
      path: string,
      send: () => Promise<{ response: { requestId: string } }>,
      stopped: string,
      live: string,
    ) =>
      pollUntil(
        `a POST ${path} tried on the stopped instance and answered by the other`,
        async () => {
          const { response } = await send();
          const entry = await stack.ingress.logEntry(response.requestId);
          return entry.upstreams.join(' ') === `${stopped} ${live}` ? entry : undefined;
        },
        { timeoutMs: 8_000, intervalMs: 100 },
      );
    const tokenEntry = await retriedPost(
      '/api/auth/token',
      () => step(stack.client, 'POST /api/auth/token', '/api/auth/token', { json: stack.apiClient }, 200),
      otherclientA.address,
      otherclientB.address,
    );
    const validateEntry = await retriedPost(
      '/auth/token/validate',
      () => validate(stack.client, session.access_token),
      authServiceA.address,
      authServiceB.address,
    );
    for (const entry of [tokenEntry, validateEntry]) {
      expect(entry).toMatchObject({ method: 'POST', status: 200, upstreamStatuses: ['502', '200'] });
    }
    expect(stack.ingress.errorLog().some((line) => line.includes('connect() failed (111: Connection refused)'))).toBe(
      true,
    );
  });

  it('the restarted instances serve again: nginx takes them back and they accept what the others issued', async () => {
    const issuedMeanwhile = await login(stack.authService[1].direct, stack.account, stack.applicationId);
    const { apiToken } = await integratorFlow(stack.otherclient[1].direct, stack.apiClient);
    const [otherclientA, authServiceA] = await Promise.all([
      stack.restart(stack.otherclient[0]),
      stack.restart(stack.authService[0]),
    ]);

    // Same keys and the same database: what the other instance issued while this one was down is valid here.
    await validate(authServiceA.direct, issuedMeanwhile.access_token);
    await step(otherclientA.direct, 'GET /api/auth/token/info', '/api/auth/token/info', { bearer: apiToken }, 200);

    for (const [instance, path] of [
      [otherclientA, '/api/auth/health'],
      [authServiceA, '/auth/health'],
    ] as const) {
      await pollUntil(
        `nginx sending requests to the restarted ${instance.name}`,
        async () => {
          const response = await stack.client.send(path);
          const entry = await stack.ingress.logEntry(response.requestId);
          return response.status === 200 && entry.upstreams.join(' ') === instance.address ? true : undefined;
        },
        // nginx tries a failed server again after fail_timeout (2 s), in each of its workers.
        { timeoutMs: 8_000, intervalMs: 100 },
      );
    }
    await integratorFlow(stack.client, stack.apiClient);
    await ssoFlow(stack.client, stack.account, stack.applicationId);
  });
});

function countByMethod(entries: readonly AccessLogEntry[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const entry of entries) counts[entry.method] = (counts[entry.method] ?? 0) + 1;
  return counts;
}
