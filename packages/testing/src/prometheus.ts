// Reading Prometheus's text exposition format (what `/metrics` answers) in tests, as a scraper would.
import type { AddressInfo } from 'node:net';
import { type ServiceMetrics, startMetricsServer, stopMetricsServer } from '@mxp/service-kit';
import type { FastifyBaseLogger } from 'fastify';

/** One sample line: `name{label="value",...} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const SPECIAL_VALUES: Record<string, number> = {
  nan: Number.NaN,
  '+inf': Number.POSITIVE_INFINITY,
  inf: Number.POSITIVE_INFINITY,
  '-inf': Number.NEGATIVE_INFINITY,
};
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/gy;

/**
 * Parses an exposition text; throws on a line that is neither a comment nor a well-formed sample, so a malformed
 * answer fails the test rather than reading as "no samples".
 */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE_LINE.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const [, name = '', labelText = '', value = ''] = match;
    const labels: Record<string, string> = {};
    LABEL_PAIR.lastIndex = 0;
    while (LABEL_PAIR.lastIndex < labelText.length) {
      const pair = LABEL_PAIR.exec(labelText);
      if (!pair) throw new Error(`malformed labels in: ${line}`);
      labels[pair[1] ?? ''] = (pair[2] ?? '').replace(/\\(.)/g, (_, escaped: string) =>
        escaped === 'n' ? '\n' : escaped,
      );
    }
    // As Prometheus parses them (Go's ParseFloat): Inf and NaN in any case; prom-client writes `Nan`.
    const special = SPECIAL_VALUES[value.toLowerCase()];
    const number = special ?? Number(value);
    if (Number.isNaN(number) && special === undefined) throw new Error(`malformed value in: ${line}`);
    samples.push({ name, labels, value: number });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels` (0 when none matches). */
export function sampleSum(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((sample) => sample.name === name && Object.entries(labels).every(([key, v]) => sample.labels[key] === v))
    .reduce((sum, sample) => sum + sample.value, 0);
}

/** Whether any sample is named `name` with labels including `labels`. */
export function hasSample(samples: Sample[], name: string, labels: Record<string, string> = {}): boolean {
  return samples.some(
    (sample) => sample.name === name && Object.entries(labels).every(([key, v]) => sample.labels[key] === v),
  );
}

/** GETs a metrics endpoint: its status, content type and parsed samples. */
export async function scrapeMetrics(url: string): Promise<{ status: number; contentType: string; samples: Sample[] }> {
  const response = await fetch(url);
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    samples: response.ok ? parsePrometheusText(text) : [],
  };
}

/** An app's metrics served as `server.ts` serves them, on a loopback port of their own; `close` stops the listener. */
export async function serveMetrics(app: { metrics: ServiceMetrics; log: FastifyBaseLogger }) {
  const server = await startMetricsServer(app.metrics.registry, { host: '127.0.0.1', port: 0 }, app.log);
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`,
    close: () => stopMetricsServer(server),
  };
}
