// Child processes of an end-to-end test: started with their output kept (for failure messages), stopped by signal,
// and all killed when the test process ends whatever happened.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';

/** How many of a child's last output lines are kept for failure messages. */
const OUTPUT_LINES_KEPT = 400;

export interface ProcessSpec {
  /** Shown in failure messages, e.g. `otherclient-a`. */
  name: string;
  command: string;
  args: readonly string[];
  env: Record<string, string>;
  cwd: string;
  /** Written to stdin, which is then closed (the admin CLIs read a password from it). */
  stdin?: string;
  /**
   * Its own process group, so that `kill` also reaches processes it forks (nginx's workers would outlive a killed
   * master otherwise).
   */
  group?: boolean;
  /**
   * Sends stdout and stderr to files in this directory instead of pipes, for programs that reopen them by name:
   * nginx's `access_log /dev/stdout` fails (ENXIO) on the socket Node gives a child as a "pipe".
   */
  outputDir?: string;
}

export interface Child {
  name: string;
  pid: number;
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  exited: Promise<number | string>;
  hasExited: () => boolean;
  /** Every stdout line so far (nginx's access log is read from it). */
  stdoutLines: () => readonly string[];
  /** Every stderr line so far (nginx's error log). */
  stderrLines: () => readonly string[];
  /** The last lines of stdout and stderr (at most `lines`), in the order they were read, for failure messages. */
  outputTail: (lines?: number) => string;
  /** Sends `signal` and waits for the exit; SIGKILL (to the group, if any) after `graceMs`. */
  stop: (signal?: NodeJS.Signals, graceMs?: number) => Promise<number | string>;
}

/** How to kill each child still running, right now. */
const running = new Set<() => void>();
let exitHookInstalled = false;

/** Last resort when the test process exits without its `afterAll` (a crash, a killed worker): nothing stays running. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const kill of running) kill();
  });
}

function killNow(pid: number, group: boolean): void {
  try {
    process.kill(group ? -pid : pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

export function startProcess(spec: ProcessSpec): Child {
  installExitHook();
  const files =
    spec.outputDir === undefined
      ? undefined
      : { out: join(spec.outputDir, `${spec.name}.stdout.log`), err: join(spec.outputDir, `${spec.name}.stderr.log`) };
  const fds = files && { out: openSync(files.out, 'a'), err: openSync(files.err, 'a') };
  const child: ChildProcess = spawn(spec.command, [...spec.args], {
    cwd: spec.cwd,
    env: spec.env,
    stdio: [spec.stdin === undefined ? 'ignore' : 'pipe', fds?.out ?? 'pipe', fds?.err ?? 'pipe'],
    detached: spec.group === true,
  });
  if (fds) {
    closeSync(fds.out);
    closeSync(fds.err);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${spec.name}: could not be started (${spec.command})`);

  const stdout: string[] = [];
  const stderr: string[] = [];
  const tail: string[] = [];
  const keep = (stream: 'out' | 'err') => {
    let partial = '';
    return (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        (stream === 'out' ? stdout : stderr).push(line);
        tail.push(stream === 'err' ? `[stderr] ${line}` : line);
        if (tail.length > OUTPUT_LINES_KEPT) tail.shift();
      }
    };
  };
  // Output written to files is read when asked for, from where the previous read stopped.
  const catchUp = files
    ? (() => {
        const out = follow(files.out, keep('out'));
        const err = follow(files.err, keep('err'));
        return () => {
          out();
          err();
        };
      })()
    : () => {};
  child.stdout?.setEncoding('utf8').on('data', keep('out'));
  child.stderr?.setEncoding('utf8').on('data', keep('err'));
  // A child that exits before reading its stdin must not crash the test with EPIPE.
  child.stdin?.on('error', () => {});
  child.stdin?.end(spec.stdin);

  let exitStatus: number | string | undefined;
  const exited = new Promise<number | string>((resolve) => {
    child.once('error', (error) => {
      tail.push(`[spawn error] ${error.message}`);
      exitStatus = 'spawn-error';
      resolve(exitStatus);
    });
    child.once('exit', (code, signal) => {
      exitStatus = code ?? signal ?? 'unknown';
      resolve(exitStatus);
    });
  });

  const handle: Child = {
    name: spec.name,
    pid,
    exited,
    hasExited: () => exitStatus !== undefined,
    stdoutLines: () => {
      catchUp();
      return stdout;
    },
    stderrLines: () => {
      catchUp();
      return stderr;
    },
    outputTail: (lines = OUTPUT_LINES_KEPT) => {
      catchUp();
      const shown = tail.slice(-lines);
      return `--- ${spec.name} (pid ${pid}), last ${shown.length} lines ---\n${shown.join('\n')}`;
    },
    async stop(signal = 'SIGTERM', graceMs = 15_000) {
      if (exitStatus !== undefined) return exitStatus;
      child.kill(signal);
      const timer = setTimeout(() => killNow(pid, spec.group === true), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  const kill = () => killNow(pid, spec.group === true);
  running.add(kill);
  void exited.then(() => running.delete(kill));
  return handle;
}

/** A reader of what has been appended to `path` since the last call, handed to `onText` (UTF-8 kept whole). */
function follow(path: string, onText: (text: string) => void): () => void {
  const decoder = new StringDecoder('utf8');
  let offset = 0;
  return () => {
    const size = statSync(path).size;
    if (size <= offset) return;
    const buffer = Buffer.alloc(size - offset);
    const fd = openSync(path, 'r');
    try {
      offset += readSync(fd, buffer, 0, buffer.length, offset);
    } finally {
      closeSync(fd);
    }
    onText(decoder.write(buffer));
  };
}

/** Runs a command to completion; its stdout when it exits 0, otherwise an error carrying its output. */
export async function runToCompletion(spec: ProcessSpec, timeoutMs = 60_000): Promise<string> {
  const child = startProcess(spec);
  const timer = setTimeout(() => killNow(child.pid, spec.group === true), timeoutMs);
  try {
    const status = await child.exited;
    if (status !== 0) throw new Error(`${spec.name} exited with ${status}\n${child.outputTail()}`);
    return child.stdoutLines().join('\n');
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `count` distinct free loopback ports. All are held open together before being released, so they differ from each
 * other; another program could still take one before it is used, which is unlikely enough on a test machine.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let index = 0; index < count; index++) {
      const server = createServer();
      servers.push(server);
      ports.push(
        await new Promise<number>((resolve, reject) => {
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => {
            const address = server.address();
            if (typeof address === 'object' && address) resolve(address.port);
            else reject(new Error('no port assigned'));
          });
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/**
 * Calls `attempt` every `intervalMs` until it returns a value other than `undefined`, which is returned; throws after
 * `timeoutMs` with `what` and the last error in the message. `abort` is checked first on every round (a child that
 * exited makes waiting pointless) and its message is thrown at once.
 */
export async function pollUntil<T>(
  what: string,
  attempt: () => Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs?: number; abort?: () => string | undefined },
): Promise<T> {
  const deadline = performance.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    const reason = options.abort?.();
    if (reason !== undefined) throw new Error(`${what}: ${reason}`);
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() > deadline) {
      const last = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`${what}: not after ${options.timeoutMs} ms${last}`);
    }
    await sleep(options.intervalMs ?? 50);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
