import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { paths } from './options.js';

/** A server the harness started: plain `node <script>`, stdout and stderr going straight to a log file. */
export interface ServerProcess {
  name: string;
  pid: number;
  baseUrl: string;
  /** Milliseconds from spawn to the first 200 of its readiness route. */
  readyMs: number;
  stop: () => Promise<void>;
}

export interface ServerSpec {
  name: string;
  /** Path of the JavaScript entry point (run with the `node` running the harness: same version). */
  script: string;
  env: Record<string, string>;
  /** Route polled for readiness, e.g. `/auth/health`. */
  readyPath: string;
  /** Extra node flags (`--cpu-prof` under BENCH_PROFILE). */
  nodeFlags?: readonly string[];
}

const running = new Set<ChildProcess>();

/** Kills whatever is still running when the harness exits, even on a crash or Ctrl-C. */
export function killChildrenOnExit(): void {
  const killAll = () => {
    for (const child of running) child.kill('SIGKILL');
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

/** A free loopback port (the OS picks one; it is released before the server binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** The environment every child gets: nothing of the harness's own (no stray REDIS_URL or NODE_OPTIONS). */
export function baseEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8' };
}

/** Spawns a server and waits until its readiness route answers 200 (polled every 5 ms, for at most 30 s). */
export async function startServer(spec: ServerSpec): Promise<ServerProcess> {
  const port = await freePort();
  mkdirSync(paths.logs, { recursive: true });
  // The child writes to the file itself: draining a pipe would cost the harness (the load generator) CPU.
  const log = openSync(join(paths.logs, `${spec.name}.log`), 'w');
  const startedAt = performance.now();
  const child = spawn(process.execPath, [...(spec.nodeFlags ?? []), spec.script], {
    cwd: paths.repo,
    env: { ...spec.env, HOST: '127.0.0.1', PORT: String(port) },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  running.add(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  exited.then(() => running.delete(child));
  const baseUrl = `http://127.0.0.1:${port}`;
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${spec.name}: could not be started`);

  const deadline = startedAt + 30_000;
  let exitCode: number | null | undefined;
  exited.then((code) => {
    exitCode = code;
  });
  while ((await statusOf(`${baseUrl}${spec.readyPath}`)) !== 200) {
    if (exitCode !== undefined) throw new Error(`${spec.name} exited (code ${exitCode}): see ${spec.name}.log`);
    if (performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${spec.name} was not ready after 30 s: see ${spec.name}.log`);
    }
    await sleep(5);
  }
  const readyMs = performance.now() - startedAt;

  return {
    name: spec.name,
    pid,
    baseUrl,
    readyMs,
    async stop() {
      if (exitCode !== undefined) return;
      child.kill('SIGTERM');
      // Services close gracefully (and write their CPU profile on the way out); a stuck one is killed.
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Status code of a GET, or 0 when the connection fails (not listening yet). */
export function statusOf(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Runs a node script to completion: its pid at once, its stdout when it exits 0 (for the admin CLIs, argon2 loop). */
export function runNode(
  script: string,
  args: readonly string[],
  env: Record<string, string>,
): { pid: number; output: Promise<string> } {
  const child = spawn(process.execPath, [script, ...args], { cwd: paths.repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const output = new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      running.delete(child);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${script} ${args.join(' ')} exited with ${code}: ${stderr.trim()}`));
    });
  });
  return { pid: child.pid ?? 0, output };
}

/** CPU time (user + system, in clock ticks) a process has used, from /proc/<pid>/stat; undefined once it is gone. */
export function cpuTicks(pid: number): number | undefined {
  try {
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/**
 * Waits until a server has finished the work a load left queued (at most `limitMs`): a login load stops with dozens
 * of argon2 verifications still queued, which would otherwise be measured as part of the next step.
 */
export async function waitForIdle(pid: number, limitMs = 10_000): Promise<void> {
  const deadline = performance.now() + limitMs;
  let before = cpuTicks(pid);
  while (before !== undefined && performance.now() < deadline) {
    await sleep(200);
    const after = cpuTicks(pid);
    // Clock ticks are 10 ms: at most 2 in 200 ms is under 10% of a CPU, i.e. idle.
    if (after === undefined || after - before <= 2) return;
    before = after;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
