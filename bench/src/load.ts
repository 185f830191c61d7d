import autocannon from 'autocannon';
import { type CpuShares, watchCpu } from './cpu.js';
import { watchMemory } from './memory.js';
import { percentile, runSteadyRate } from './steady-rate.js';

/** One kind of request, sent over and over by autocannon (as a library, in the harness's own process). */
export interface LoadSpec {
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Called for every request when set: a fresh token per request, or the next one of a rotation. */
  next?: () => { headers?: Record<string, string>; body?: string };
  /** Connections kept busy (as fast as the server answers), or the most a fixed-rate load may open. */
  connections: number;
  /** Requests per second, evenly spaced (steady-rate.ts), instead of as many as the connections get answered. */
  rate?: number;
}

/** What one scenario measured. Requests/s counts 2xx answers only, so errors never inflate it. */
export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Socket errors and timeouts, plus every non-2xx answer. */
  errors: number;
  statusCodes: Record<string, number>;
  requests: number;
  seconds: number;
  connections: number;
  rate?: number;
  /** Fixed-rate loads: p99 and worst of how late the harness sent requests (its own delays, not the server's). */
  sendLagMs?: { p99: number; max: number };
}

function options(spec: LoadSpec, seconds: number): autocannon.Options {
  const { next } = spec;
  return {
    url: spec.url,
    method: spec.method,
    headers: spec.headers ?? {},
    ...(spec.body === undefined ? {} : { body: spec.body }),
    connections: spec.connections,
    duration: seconds,
    // Keep the run going whatever answers come: errors are counted, never a reason to stop early.
    timeout: 10,
    ...(next
      ? {
          requests: [
            {
              setupRequest: (request: autocannon.Request) => {
                const { headers, body } = next();
                return {
                  ...request,
                  headers: { ...request.headers, ...headers },
                  ...(body === undefined ? {} : { body }),
                };
              },
            },
          ],
        }
      : {}),
  };
}

function summarize(spec: LoadSpec, result: autocannon.Result): LoadResult {
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = count ?? 0;
  return {
    requestsPerSecond: result['2xx'] / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.non2xx,
    statusCodes,
    requests: result.requests.total,
    seconds: result.duration,
    connections: spec.connections,
  };
}

async function run(spec: LoadSpec, seconds: number): Promise<LoadResult> {
  if (spec.rate === undefined) return summarize(spec, await autocannon(options(spec, seconds)));
  const steady = await runSteadyRate(
    {
      url: spec.url,
      method: spec.method,
      headers: spec.headers ?? {},
      rate: spec.rate,
      maxConnections: spec.connections,
      ...(spec.next ? { next: spec.next } : {}),
      ...(spec.body === undefined ? {} : { body: spec.body }),
    },
    seconds,
  );
  return {
    requestsPerSecond: steady.ok / steady.seconds,
    p50Ms: percentile(steady.latencies, 0.5),
    p99Ms: percentile(steady.latencies, 0.99),
    errors: steady.errors,
    statusCodes: steady.statusCodes,
    requests: steady.sent,
    seconds: steady.seconds,
    connections: spec.connections,
    rate: spec.rate,
    sendLagMs: { p99: percentile(steady.sendLags, 0.99), max: steady.sendLags.at(-1) ?? 0 },
  };
}

/**
 * Runs loads side by side: an unmeasured warm-up (JIT, connection pools, caches), then the measured window while
 * the server's memory is watched. Several loads run at once for "validate while logins saturate the CPU".
 */
export async function measure(
  specs: readonly LoadSpec[],
  timing: { warmupSeconds: number; durationSeconds: number },
  observed: { pid: number; databaseName: string },
): Promise<{ results: LoadResult[]; peakRssMb: number; cpu: CpuShares }> {
  if (timing.warmupSeconds > 0) await Promise.all(specs.map((spec) => run(spec, timing.warmupSeconds)));
  const memory = watchMemory(observed.pid);
  const cpu = watchCpu(observed.pid, observed.databaseName);
  const results = await Promise.all(specs.map((spec) => run(spec, timing.durationSeconds)));
  return { results, cpu: cpu.stop(), peakRssMb: memory.stop() };
}
