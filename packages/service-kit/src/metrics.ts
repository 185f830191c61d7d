import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pgPoolOf } from '@mxp/db';
import type { FastifyBaseLogger, onResponseHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { Type } from 'typebox';

/** Variables of the metrics listener, shared by both services. */
export const MetricsConfigProperties = {
  METRICS_PORT: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 65_535,
      description:
        'Port of the Prometheus `/metrics` listener, apart from the API port so the ingress never exposes it; ' +
        'no listener when unset (the metrics are still kept)',
    }),
  ),
  METRICS_HOST: Type.Optional(
    Type.String({ minLength: 1, description: 'Address of the metrics listener; HOST when unset' }),
  ),
};

declare module 'fastify' {
  interface FastifyInstance {
    /** The service's Prometheus registry: HTTP, database pool, process and rate-limit metrics, and the app's own. */
    metrics: ServiceMetrics;
  }
}

/** What a service's metrics plugin gives the rest of the app. */
export interface ServiceMetrics {
  readonly registry: Registry;
  /** Counts a request refused by the rate limit (called by the rate-limit plugin). */
  countRateLimitRefusal(route: string): void;
}

export interface MetricsPluginOptions {
  /** The `service` label on every series (`otherclient`, `auth-service`). */
  service: string;
}

/** Request latency buckets (seconds): sub-millisecond cache hits up to slow password checks and timeouts. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** The route label of requests that matched no route (404s): one series, whatever path was probed. */
const UNMATCHED_ROUTE = 'unmatched';

/**
 * Keeps the service's Prometheus metrics: `http_request_duration_seconds` by method, route template and status (its
 * `_count` is the request rate), rate-limit refusals by route, the database pool's connections, and Node's process
 * metrics. Serving them is {@link startMetricsServer}'s job, on a port of its own.
 */
export const metricsPlugin = fp<MetricsPluginOptions>(
  async (app, options) => {
    const registry = new Registry();
    registry.setDefaultLabels({ service: options.service });
    collectDefaultMetrics({ register: registry });

    const requestDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from receiving a request to sending its response, by method, route template and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
    const rateLimitRefusals = new Counter({
      name: 'mxp_rate_limit_refusals_total',
      help: 'Requests answered 429 by the per-address or per-token rate limit, by route template',
      labelNames: ['route'] as const,
      registers: [registry],
    });
    // Read at each scrape: the database plugin registers after this one (the hooks here must cover every route).
    const pool = () => (app.hasDecorator('db') ? pgPoolOf(app.db) : undefined);
    new Gauge({
      name: 'mxp_db_pool_connections',
      help: 'Connections of the database pool, by state (idle, in_use)',
      labelNames: ['state'] as const,
      registers: [registry],
      collect() {
        const current = pool();
        if (!current) return;
        this.set({ state: 'idle' }, current.idleCount);
        this.set({ state: 'in_use' }, current.totalCount - current.idleCount);
      },
    });
    new Gauge({
      name: 'mxp_db_pool_max_connections',
      help: 'Most connections the database pool opens (DATABASE_POOL_MAX)',
      registers: [registry],
      collect() {
        const max = pool()?.options.max;
        if (max !== undefined) this.set(max);
      },
    });
    new Gauge({
      name: 'mxp_db_pool_waiting_queries',
      help: 'Queries waiting for a free connection of the database pool',
      registers: [registry],
      collect() {
        const current = pool();
        if (current) this.set(current.waitingCount);
      },
    });

    // Each route gets its own response hook, which knows its route template: reading it per request through
    // `request.routeOptions` builds an object every time. Label sets are built once per method and status.
    const observerOf = (route: string) => {
      const labelSets = new Map<string, { method: string; route: string; status_code: string }>();
      return (method: string, statusCode: number, elapsedMs: number) => {
        const key = `${method}${statusCode}`;
        let labels = labelSets.get(key);
        if (!labels) {
          labels = { method, route, status_code: String(statusCode) };
          labelSets.set(key, labels);
        }
        requestDuration.observe(labels, elapsedMs / 1000);
      };
    };
    app.addHook('onRoute', (routeOptions) => {
      const observe = observerOf(routeOptions.url);
      const timed: onResponseHookHandler = (request, reply, done) => {
        observe(request.method, reply.statusCode, reply.elapsedTime);
        done();
      };
      routeOptions.onResponse = [routeOptions.onResponse ?? []].flat().concat(timed);
    });
    // Requests that matched no route run no route hook.
    const observeUnmatched = observerOf(UNMATCHED_ROUTE);
    app.addHook('onResponse', (request, reply, done) => {
      if (request.is404) observeUnmatched(request.method, reply.statusCode, reply.elapsedTime);
      done();
    });

    app.decorate('metrics', {
      registry,
      countRateLimitRefusal: (route: string) => rateLimitRefusals.inc({ route }),
    } satisfies ServiceMetrics);
  },
  { name: 'mxp-metrics', fastify: '5.x' },
);

/**
 * Serves `GET /metrics` from `registry` on its own listener (anything else: 404), apart from the API so that the
 * ingress, which routes to the API port only, never exposes it. Resolves once listening.
 */
export async function startMetricsServer(
  registry: Registry,
  listen: { host: string; port: number },
  log: FastifyBaseLogger,
): Promise<Server> {
  const server = createServer((request, response) => {
    const path = request.url?.split('?', 1)[0];
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        response.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        log.error({ err: error }, 'metrics could not be collected');
        response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('Metrics unavailable\n');
      },
    );
  });
  // A scraper keeps its connection open; closing must not wait for it.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  log.info({ address, port }, 'metrics listening');
  return server;
}

/** Stops the metrics listener, dropping idle scraper connections. */
export async function stopMetricsServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
