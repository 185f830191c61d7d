// The service process as deployed (src/server.ts through service-kit's startService): the API on PORT and, only when
// METRICS_PORT is set, the Prometheus listener on a port of its own; both close on SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, type TestDatabase } from '@mxp/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv } from './helpers.js';
import { tempDataDir } from './routes/support.js';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface RunningService {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  output: () => string;
  /** Resolves with the first log line that `matches`; rejects if the process exits first. */
  waitForLine(matches: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

function startServer(env: NodeJS.ProcessEnv): RunningService {
  const child = spawn(process.execPath, ['--conditions=@mxp/source', '--import', 'tsx', 'src/server.ts'], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  let raw = '';
  let partialLine = '';
  const waiters = new Set<() => void>();
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    raw += chunk;
    // A chunk may end in the middle of a line: the rest comes with the next one.
    const texts = (partialLine + chunk).split('\n');
    partialLine = texts.pop() ?? '';
    for (const text of texts) {
      if (text.startsWith('{')) lines.push(JSON.parse(text) as Record<string, unknown>);
    }
    for (const wake of waiters) wake();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    raw += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    output: () => raw,
    exited,
    waitForLine(matches) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = lines.find(matches);
          if (line) {
            waiters.delete(check);
            resolve(line);
          }
        };
        waiters.add(check);
        check();
        void exited.then((code) => reject(new Error(`exited with ${code} before the line:\n${raw}`)));
      });
    },
  };
}

function baseEnv(): NodeJS.ProcessEnv {
  return testEnv(database.url, { LOG_LEVEL: 'info', PORT: '0', DATA_DIR: tempDataDir() });
}

const listeningOn = (line: Record<string, unknown>) =>
  /^Server listening at http:\/\/127\.0\.0\.1:\d+$/.test(String(line.msg));

describe('auth-service process', () => {
  it('serves /metrics on METRICS_PORT only, and closes both listeners on SIGTERM', async () => {
    const metricsPort = await freePort();
    const service = startServer({ ...baseEnv(), METRICS_PORT: String(metricsPort) });
    try {
      const api = String((await service.waitForLine(listeningOn)).msg).replace('Server listening at ', '');
      await service.waitForLine((line) => line.msg === 'metrics listening' && line.port === metricsPort);

      expect((await fetch(`${api}/auth/health`)).status).toBe(200);
      const scraped = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(scraped.status).toBe(200);
      const text = await scraped.text();
      expect(text).toMatch(
        /^http_request_duration_seconds_count\{service="auth-service",method="GET",route="\/auth\/health",status_code="200"\} 1$/m,
      );
      expect(text).toMatch(/^mxp_active_sessions\{service="auth-service"\} 0$/m);
      // The API port has no metrics route, under any prefix.
      expect((await fetch(`${api}/metrics`)).status).toBe(404);
      expect((await fetch(`${api}/auth/metrics`)).status).toBe(404);

      service.child.kill('SIGTERM');
      expect(await service.exited, service.output()).toBe(0);
      await expect(fetch(`http://127.0.0.1:${metricsPort}/metrics`)).rejects.toThrow();
    } finally {
      service.child.kill('SIGKILL');
    }
  }, 30_000);

  it('exits with an error, its API never listening, when METRICS_PORT is taken', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = taken.address() as { port: number };
      const service = startServer({ ...baseEnv(), METRICS_PORT: String(port), METRICS_HOST: '127.0.0.1' });
      try {
        expect(await service.exited, service.output()).toBe(1);
        expect(service.output()).toContain('EADDRINUSE');
        expect(service.lines.filter(listeningOn)).toEqual([]);
      } finally {
        service.child.kill('SIGKILL');
      }
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  }, 30_000);

  it('opens no metrics listener without METRICS_PORT', async () => {
    const service = startServer(baseEnv());
    try {
      await service.waitForLine(listeningOn);
      await service.waitForLine((line) => line.msg === 'password hashing');
      expect(service.lines.filter((line) => line.msg === 'metrics listening')).toEqual([]);
      service.child.kill('SIGTERM');
      expect(await service.exited, service.output()).toBe(0);
    } finally {
      service.child.kill('SIGKILL');
    }
  }, 30_000);
});
