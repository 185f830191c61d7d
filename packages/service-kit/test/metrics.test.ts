import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startMetricsServer, stopMetricsServer } from '../src/index.js';
import { buildKitApp } from './support/kit-app.js';

type KitApp = Awaited<ReturnType<typeof buildKitApp>>;
const opened: KitApp[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map(stopMetricsServer));
  await Promise.all(opened.splice(0).map(({ app }) => app.close()));
});

async function kitApp(options: Parameters<typeof buildKitApp>[0] = {}) {
  const built = await buildKitApp({ metrics: true, ...options });
  opened.push(built);
  return built;
}

/** The value of one series of a metric in the app's registry (undefined when the series does not exist). */
async function seriesValue(app: KitApp['app'], name: string, labels: Record<string, string | number>) {
  const metric = app.metrics.registry.getSingleMetric(name);
  if (!metric) return undefined;
  const { values } = await metric.get();
  return values.find((value) => Object.entries(labels).every(([key, label]) => value.labels[key] === label))?.value;
}

describe('metrics plugin', () => {
  it('times every request by method, route template and status, unmatched paths in one series', async () => {
    const { app } = await kitApp();
    await app.inject({ method: 'GET', url: '/svc/things' });
    await app.inject({ method: 'GET', url: '/svc/things?page=2' });
    await app.inject({
      method: 'POST',
      url: '/svc/echo',
      payload: '{',
      headers: { 'content-type': 'application/json' },
    });
    await app.inject({ method: 'HEAD', url: '/svc/things' });
    await app.inject({ method: 'GET', url: '/no/such/path/1' });
    await app.inject({ method: 'GET', url: '/no/such/path/2' });

    const count = (labels: Record<string, string>) => seriesValue(app, 'http_request_duration_seconds', labels);
    expect(await count({ method: 'GET', route: '/svc/things', status_code: '200', le: '+Inf' })).toBe(2);
    expect(await count({ method: 'HEAD', route: '/svc/things', status_code: '200', le: '+Inf' })).toBe(1);
    expect(await count({ method: 'POST', route: '/svc/echo', status_code: '400', le: '+Inf' })).toBe(1);
    // A scanner's paths cannot create series: every unmatched request shares one route label.
    expect(await count({ method: 'GET', route: 'unmatched', status_code: '404', le: '+Inf' })).toBe(2);
    const text = await app.metrics.registry.metrics();
    expect(text).not.toContain('/no/such/path');
    expect(text).toMatch(
      /^http_request_duration_seconds_sum\{service="kit-test",method="GET",route="\/svc\/things",status_code="200"\} \d/m,
    );
  });

  it('counts rate-limit refusals by route', async () => {
    const { app } = await kitApp({ credentialsPerMinute: 1 });
    const remoteAddress = '198.51.100.10';
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await app.inject({ method: 'POST', url: '/svc/login', remoteAddress })).statusCode);
    expect(statuses).toEqual([200, 429, 429]);
    expect(await seriesValue(app, 'mxp_rate_limit_refusals_total', { route: '/svc/login' })).toBe(2);
    expect(await seriesValue(app, 'mxp_rate_limit_refusals_total', { route: '/svc/things' })).toBeUndefined();
  });

  it('keeps Node process metrics with the service label', async () => {
    const { app } = await kitApp();
    const text = await app.metrics.registry.metrics();
    expect(text).toMatch(/^process_resident_memory_bytes\{service="kit-test"\} \d+/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds\{service="kit-test"\} /m);
  });
});

describe('metrics listener', () => {
  it('serves GET /metrics in the text format on its own port, and nothing else', async () => {
    const { app } = await kitApp();
    await app.inject({ method: 'GET', url: '/svc/things' });
    const server = await startMetricsServer(app.metrics.registry, { host: '127.0.0.1', port: 0 }, app.log);
    servers.push(server);
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const scraped = await fetch(`${base}/metrics`);
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(scraped.headers.get('cache-control')).toBe('no-store');
    expect(await scraped.text()).toMatch(/^http_request_duration_seconds_count\{.*route="\/svc\/things".*\} 1$/m);
    expect((await fetch(`${base}/metrics?x=1`)).status).toBe(200);
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(404);
    // And the API itself has no /metrics route.
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
  });

  it('refuses to start on a port already in use (the service then fails to start, not silently unmonitored)', async () => {
    const { app } = await kitApp();
    const first = await startMetricsServer(app.metrics.registry, { host: '127.0.0.1', port: 0 }, app.log);
    servers.push(first);
    const { port } = first.address() as AddressInfo;
    await expect(startMetricsServer(app.metrics.registry, { host: '127.0.0.1', port }, app.log)).rejects.toThrow(
      /EADDRINUSE/,
    );
  });
});
