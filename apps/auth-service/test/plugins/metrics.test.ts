// The auth-service's Prometheus metrics, read as Prometheus would: over HTTP from the metrics listener, in the text
// format, after real requests against a real database.
import { type Sample, sampleSum, scrapeMetrics, serveMetrics } from '@mxp/testing/prometheus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  createApplication,
  createUser,
  login,
  refresh,
  startApp,
  type TestApp,
  validate,
} from '../routes/support.js';

let testApp: TestApp;
let metrics: Awaited<ReturnType<typeof serveMetrics>>;

beforeAll(async () => {
  // Grace 0: a spent refresh token presented again is a reuse at once. Active sessions recounted on every scrape.
  testApp = await startApp({ REFRESH_REUSE_GRACE_SECONDS: '0', ACTIVE_SESSIONS_METRIC_INTERVAL_MS: '0' });
  metrics = await serveMetrics(testApp.app);
});
afterAll(async () => {
  await metrics?.close();
  await testApp?.close();
});

async function scrape(): Promise<Sample[]> {
  const { status, contentType, samples } = await scrapeMetrics(metrics.url);
  expect(status).toBe(200);
  expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  return samples;
}

function post(url: string, payload: object, headers: Record<string, string> = {}) {
  return testApp.app.inject({ method: 'POST', url, payload, headers });
}

describe('auth-service metrics', () => {
  it('count logins and credential checks by outcome, refreshes, reuse, logouts, tokens and active sessions', async () => {
    const { db } = testApp;
    const user = await createUser(db);
    const disabled = await createUser(db, { status: 'disabled' });
    const application = await createApplication(db);
    const closedApplication = await createApplication(db, { status: 'disabled' });
    const credentials = { username: user.username, password: user.password };

    const first = await login(testApp, user, application.id);
    const second = await login(testApp, user, application.id);
    await login(testApp, user, application.id);
    const refused = [
      post('/auth/login', { ...credentials, password: `${user.password}x`, application_id: application.id }),
      post('/auth/login', { ...credentials, username: 'nobody-at-all', application_id: application.id }),
      post('/auth/login', { username: disabled.username, password: disabled.password, application_id: application.id }),
      post('/auth/login', { ...credentials, application_id: closedApplication.id }),
      post('/auth/login', { ...credentials, application_id: '0195f0c4-0000-7000-8000-000000000000' }),
    ];
    for (const response of await Promise.all(refused)) expect(response.statusCode, response.body).toBeGreaterThan(399);
    expect((await post('/auth/verify', credentials)).statusCode).toBe(200);
    expect((await post('/auth/verify', { ...credentials, password: 'wrong' })).statusCode).toBe(401);

    // The first session: refreshed once, then its spent token presented again (a reuse: the session is revoked).
    const rotated = await refresh(testApp, first.refresh_token);
    expect(rotated.statusCode, rotated.body).toBe(200);
    expect((await refresh(testApp, first.refresh_token)).statusCode).toBe(401);
    expect((await refresh(testApp, 'not-a-refresh-token-at-all-0123456789')).statusCode).toBe(401);
    // The second session logs out; the third stays active.
    const loggedOut = await testApp.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: bearer(second.access_token),
    });
    expect(loggedOut.statusCode, loggedOut.body).toBe(200);
    expect((await validate(testApp, second.access_token)).statusCode).toBe(401);

    const samples = await scrape();
    const logins = (outcome: string) => sampleSum(samples, 'mxp_logins_total', { outcome });
    expect(logins('success')).toBe(3);
    expect(logins('bad_password')).toBe(1);
    expect(logins('unknown_user')).toBe(1);
    expect(logins('user_disabled')).toBe(1);
    expect(logins('application_disabled')).toBe(1);
    expect(logins('unknown_application')).toBe(1);
    expect(sampleSum(samples, 'mxp_credential_checks_total', { outcome: 'success' })).toBe(1);
    expect(sampleSum(samples, 'mxp_credential_checks_total', { outcome: 'bad_password' })).toBe(1);
    expect(sampleSum(samples, 'mxp_refreshes_total', { outcome: 'success' })).toBe(1);
    expect(sampleSum(samples, 'mxp_refreshes_total', { outcome: 'reuse_detected' })).toBe(1);
    expect(sampleSum(samples, 'mxp_refreshes_total', { outcome: 'unknown' })).toBe(1);
    expect(sampleSum(samples, 'mxp_refresh_token_reuse_detections_total')).toBe(1);
    expect(sampleSum(samples, 'mxp_logouts_total')).toBe(1);
    expect(sampleSum(samples, 'mxp_access_tokens_issued_total', { grant: 'login' })).toBe(3);
    expect(sampleSum(samples, 'mxp_access_tokens_issued_total', { grant: 'refresh' })).toBe(1);
    // Three opened: one revoked by the reuse, one logged out.
    expect(sampleSum(samples, 'mxp_active_sessions')).toBe(1);

    const requests = (labels: Record<string, string>) =>
      sampleSum(samples, 'http_request_duration_seconds_count', { service: 'auth-service', ...labels });
    expect(requests({ method: 'POST', route: '/auth/login', status_code: '200' })).toBe(3);
    expect(requests({ method: 'POST', route: '/auth/login', status_code: '401' })).toBe(3);
    expect(requests({ method: 'POST', route: '/auth/token/validate', status_code: '401' })).toBe(1);

    expect(sampleSum(samples, 'mxp_db_pool_max_connections')).toBe(testApp.config.DATABASE_POOL_MAX);
    const open = sampleSum(samples, 'mxp_db_pool_connections');
    expect(open).toBeGreaterThan(0);
    expect(open).toBeLessThanOrEqual(testApp.config.DATABASE_POOL_MAX);
  });

  it('count a sign-in refused during a lock as locked, right password or not', async () => {
    const user = await createUser(testApp.db);
    const application = await createApplication(testApp.db);
    const before = await scrape();
    const attempt = (password: string) =>
      post('/auth/login', { username: user.username, password, application_id: application.id });
    for (let i = 0; i < testApp.config.BACKOFF_MAX_FAILURES; i++) {
      expect((await attempt(`wrong-${i}`)).statusCode).toBe(401);
    }
    expect((await attempt(user.password)).statusCode).toBe(401);
    const after = await scrape();
    const added = (outcome: string) =>
      sampleSum(after, 'mxp_logins_total', { outcome }) - sampleSum(before, 'mxp_logins_total', { outcome });
    expect(added('bad_password')).toBe(testApp.config.BACKOFF_MAX_FAILURES);
    expect(added('locked')).toBe(1);
    expect(added('success')).toBe(0);
  });

  it('hold no user, token or secret in any label', async () => {
    const user = await createUser(testApp.db);
    const application = await createApplication(testApp.db);
    const session = await login(testApp, user, application.id);
    await post('/auth/login', { username: user.username, password: 'Secret-Guess-1', application_id: application.id });
    const text = await (await fetch(metrics.url)).text();
    for (const secret of [user.username, user.id, user.password, 'Secret-Guess-1', session.session_id]) {
      expect(text).not.toContain(secret);
    }
    expect(text).not.toContain(session.refresh_token.slice(0, 16));
    expect(text).not.toContain(session.access_token.slice(-16));
  });
});

describe('auth-service rate-limit metrics', () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await startApp({ RATE_LIMIT_CREDENTIALS_PER_MINUTE: '1' });
  });
  afterAll(async () => {
    await limited?.close();
  });

  it('count the requests the rate limit refused, by route', async () => {
    const payload = { username: 'someone', password: 'something' };
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      statuses.push((await limited.app.inject({ method: 'POST', url: '/auth/verify', payload })).statusCode);
    }
    expect(statuses).toEqual([401, 429, 429]);
    const { values } = await (limited.app.metrics.registry.getSingleMetric('mxp_rate_limit_refusals_total')?.get() ??
      Promise.reject(new Error('no rate-limit metric')));
    expect(values).toEqual([{ labels: { route: '/auth/verify' }, value: 2 }]);
  });
});
