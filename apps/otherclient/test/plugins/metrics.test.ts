// The otherclient's Prometheus metrics, read as Prometheus would: over HTTP from the metrics listener, in the text
// format, after real token requests against a real database.
import { sampleSum, scrapeMetrics, serveMetrics } from '@mxp/testing/prometheus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setClientStatus } from '../../src/services/clients.js';
import { basicAuth, FORM, form, freshIp, newClient, startApp, type TestApp, untilNotified } from '../routes/support.js';

let testApp: TestApp;
let metrics: Awaited<ReturnType<typeof serveMetrics>>;

beforeAll(async () => {
  testApp = await startApp({ RATE_LIMIT_CREDENTIALS_PER_MINUTE: '3' });
  metrics = await serveMetrics(testApp.app);
});
afterAll(async () => {
  await metrics?.close();
  await testApp?.close();
});

function apiToken(clientId: string, clientSecret: string, remoteAddress = freshIp()) {
  return testApp.app.inject({
    method: 'POST',
    url: '/api/auth/token',
    payload: { clientId, clientSecret },
    remoteAddress,
  });
}

function oauthToken(authorization: string, body: Record<string, string> = {}) {
  return testApp.app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { ...FORM, authorization },
    payload: form({ grant_type: 'client_credentials', ...body }),
    remoteAddress: freshIp(),
  });
}

describe('otherclient metrics', () => {
  it('count tokens issued by grant, refusals by endpoint and reason, and rate-limit refusals', async () => {
    const client = await newClient(testApp, { scopes: ['orders:read'] });
    const disabled = await newClient(testApp);
    await setClientStatus(testApp.db, disabled.clientId, 'disabled', 'vitest');
    await untilNotified(testApp, disabled.clientId);

    for (let i = 0; i < 2; i++) expect((await apiToken(client.clientId, client.clientSecret)).statusCode).toBe(200);
    expect((await oauthToken(basicAuth(client.clientId, client.clientSecret))).statusCode).toBe(200);
    expect((await apiToken(client.clientId, 'wrong-secret-0123456789')).statusCode).toBe(401);
    expect((await apiToken('no-such-client', 'whatever-0123456789')).statusCode).toBe(401);
    expect((await apiToken(disabled.clientId, disabled.clientSecret)).statusCode).toBe(401);
    const scoped = await oauthToken(basicAuth(client.clientId, client.clientSecret), { scope: 'admin' });
    expect(scoped.statusCode, scoped.body).toBe(400);
    // Three per minute per address on the credential routes: the fourth is refused before any check.
    const address = freshIp();
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await apiToken('x', 'y', address)).statusCode);
    expect(statuses).toEqual([401, 401, 401, 429]);

    const { status, samples } = await scrapeMetrics(metrics.url);
    expect(status).toBe(200);
    expect(sampleSum(samples, 'mxp_tokens_issued_total', { grant_type: 'api_token' })).toBe(2);
    expect(sampleSum(samples, 'mxp_tokens_issued_total', { grant_type: 'client_credentials' })).toBe(1);
    const refusals = (grant_type: string, reason: string) =>
      sampleSum(samples, 'mxp_token_request_refusals_total', { grant_type, reason });
    expect(refusals('api_token', 'bad_secret')).toBe(1);
    expect(refusals('api_token', 'unknown_client')).toBe(4);
    expect(refusals('api_token', 'disabled_client')).toBe(1);
    expect(refusals('client_credentials', 'invalid_scope')).toBe(1);
    expect(sampleSum(samples, 'mxp_rate_limit_refusals_total', { route: '/api/auth/token' })).toBe(1);
    expect(
      sampleSum(samples, 'http_request_duration_seconds_count', {
        service: 'otherclient',
        method: 'POST',
        route: '/api/auth/token',
        status_code: '200',
      }),
    ).toBe(2);
    expect(sampleSum(samples, 'mxp_db_pool_max_connections')).toBe(testApp.config.DATABASE_POOL_MAX);
    expect(sampleSum(samples, 'mxp_token_audit_dropped_rows_total')).toBe(0);

    // No client id, secret or token in any series.
    const text = await (await fetch(metrics.url)).text();
    for (const secret of [client.clientId, client.clientSecret, disabled.clientId, 'wrong-secret-0123456789']) {
      expect(text).not.toContain(secret);
    }
  });

  it('count a lock once, as a lock, and the refusals during it as locked', async () => {
    const client = await newClient(testApp);
    const before = (await scrapeMetrics(metrics.url)).samples;
    for (let i = 0; i < testApp.config.BACKOFF_MAX_FAILURES; i++) {
      expect((await apiToken(client.clientId, `wrong-secret-${i}-0123456789`)).statusCode).toBe(401);
    }
    expect((await apiToken(client.clientId, client.clientSecret)).statusCode).toBe(401);
    const after = (await scrapeMetrics(metrics.url)).samples;
    const added = (name: string, labels: Record<string, string>) =>
      sampleSum(after, name, labels) - sampleSum(before, name, labels);
    expect(added('mxp_client_locks_total', { grant_type: 'api_token' })).toBe(1);
    expect(added('mxp_token_request_refusals_total', { reason: 'bad_secret' })).toBe(
      testApp.config.BACKOFF_MAX_FAILURES,
    );
    expect(added('mxp_token_request_refusals_total', { reason: 'locked' })).toBe(1);
    // Every refused request counted once.
    expect(added('mxp_token_request_refusals_total', {})).toBe(testApp.config.BACKOFF_MAX_FAILURES + 1);
  });
});
