// A fixed request rate, evenly spaced, for "validate at 500/s while logins saturate the CPU". autocannon's
// `overallRate` is not that: each connection sends its whole per-second quota back to back and then waits for the
// next second (measured here: 500/s arrives as ~500 requests within ~100 ms, then nothing for ~900 ms), which tests
// bursts. A gateway's calls arrive spread out, so this sends request i at start + i/rate whatever the earlier ones
// are doing (open loop: a slow answer never delays the next request, so slowness is not hidden), over keep-alive
// connections opened as needed. Latency runs from when a request is handed to the HTTP client (including any wait
// for a free connection); how late the harness itself was in sending (its timers, its share of the CPU) is kept
// apart, as sendLags, so that the harness's own delays are not charged to the server.
import { Agent, request } from 'node:http';

export interface SteadyRateSpec {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  next?: () => { headers?: Record<string, string>; body?: string };
  body?: string;
  rate: number;
  /** Most connections open at once (requests beyond wait for one, and their wait counts in their latency). */
  maxConnections: number;
}

export interface SteadyRateResult {
  sent: number;
  ok: number;
  errors: number;
  statusCodes: Record<string, number>;
  /** Milliseconds from sending each request to its complete answer, sorted. */
  latencies: number[];
  /** How late requests left the harness (its own timer and scheduling delays, counted in their latency), sorted. */
  sendLags: number[];
  seconds: number;
}

function send(agent: Agent, spec: SteadyRateSpec): Promise<number> {
  const dynamic = spec.next?.();
  const body = dynamic?.body ?? spec.body;
  return new Promise((resolve) => {
    const req = request(
      spec.url,
      { agent, method: spec.method, headers: { ...spec.headers, ...dynamic?.headers }, timeout: 10_000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** Sends `rate` requests a second for `seconds`, evenly spaced, and waits for every answer. */
export async function runSteadyRate(spec: SteadyRateSpec, seconds: number): Promise<SteadyRateResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: spec.maxConnections });
  const intervalMs = 1000 / spec.rate;
  const total = Math.round(spec.rate * seconds);
  const start = performance.now();
  const statusCodes: Record<string, number> = {};
  const latencies: number[] = [];
  const sendLags: number[] = [];
  const pending: Promise<void>[] = [];
  let sent = 0;
  while (sent < total) {
    // Everything due by now goes out; then sleep until the next one is due (timers are ~1 ms coarse).
    const now = performance.now();
    while (sent < total && start + sent * intervalMs <= now) {
      sendLags.push(now - (start + sent * intervalMs));
      const sentAt = performance.now();
      pending.push(
        send(agent, spec).then((status) => {
          latencies.push(performance.now() - sentAt);
          statusCodes[String(status)] = (statusCodes[String(status)] ?? 0) + 1;
        }),
      );
      sent++;
    }
    const wait = start + sent * intervalMs - performance.now();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  const ok = Object.entries(statusCodes)
    .filter(([code]) => code.startsWith('2'))
    .reduce((sum, [, count]) => sum + count, 0);
  const sorted = (values: number[]) => values.sort((a, b) => a - b);
  return {
    sent,
    ok,
    errors: sent - ok,
    statusCodes,
    latencies: sorted(latencies),
    sendLags: sorted(sendLags),
    seconds: elapsed,
  };
}

/** The value below which `fraction` of the sorted samples lie (nearest rank). */
export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? Number.NaN;
}
