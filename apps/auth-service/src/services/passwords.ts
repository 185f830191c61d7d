import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { availableParallelism, getPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
import * as argon2 from '@node-rs/argon2';
import pLimit from 'p-limit';

// Where argon2 runs. At 19 MiB per hash a login costs ~10 ms of CPU, and with logins saturating the CPU the hash
// threads used to share the 2 cores equally with the event loop and PostgreSQL: validate (no hashing) waited up to
// 60+ ms (pnpm bench: validate-under-login). So each hash runs synchronously in a worker thread of our own that lowers
// its own scheduling priority by NICE_INCREMENT: on Linux nice is per thread (setpriority on a thread id touches
// that thread only), so the event loop, its libuv pool (file, DNS) and PostgreSQL win the CPU whenever they need it,
// while the hashes still use every idle cycle. libuv's shared pool cannot be used for this: its threads are not told
// apart from V8's (all named "node" in Node 20) and also run other work. One worker per core, each hashing one password
// at a time: measured on 2 vCPUs at OWASP's minimum, more hashes in flight than cores only fight over the CPU and the
// memory bus; further hashes wait here, in arrival order.
//
// The library is @node-rs/argon2 (Rust, prebuilt per platform): it has a synchronous API, which a worker needs, writes
// the same PHC strings as the `argon2` package (v=19, 16-byte salt, 32-byte hash; older hashes verify unchanged) and
// verified ~2x as fast per core as `argon2` 0.45 here (110/s vs 48/s at m=19456, t=2, p=1).
//
// Fallback, with one log line at startup (app.ts): not Linux (elsewhere setpriority on a thread id would renice the
// whole process), or a worker could not lower its priority or load the library -> the library's async API on libuv's
// thread pool at normal priority, limited to one hash per core, as before.
//
// Measured (pnpm bench, quiet 2 vCPUs): argon2-raw 93 -> 184/s, login 67 -> 85/s, validate-under-login's validate
// answers in 0.2 ms (p99 1.9 ms, server side) while logins run at ~67/s. What is left of its p99 is login's own event
// loop work (~10 ms per login: Prisma, pg, signing, GC, logs): a burst of 64 logins arriving at once stalls the event
// loop for ~200 ms, which priorities cannot help. Also: niced threads yield to every other nice-0 process on the host.

/** How much lower than the event loop the hash threads run (nice 0 -> 10; CFS then weighs them ~10x less). */
export const NICE_INCREMENT = 10;

/** argon2id cost parameters (configuration; production defaults are OWASP's minimum, tests use cheap ones). */
export interface PasswordHashParams {
  memoryKib: number;
  iterations: number;
  parallelism: number;
}

/** Where hashes run: low-priority worker threads (their thread ids and nice value), or libuv's pool (and why). */
export type PasswordHashingMode =
  | { mode: 'low-priority-workers'; threadIds: number[]; nice: number }
  | { mode: 'thread-pool'; reason: string };

type Job =
  | { op: 'hash'; password: string; params: PasswordHashParams }
  | { op: 'verify'; hash: string; password: string };

interface Pending {
  job: Job;
  resolve: (value: string | boolean) => void;
  reject: (error: Error) => void;
}

/** What a hashing worker posts first: its thread id and nice value, or why it cannot serve. */
interface WorkerHello {
  tid: number | null;
  nice: number | null;
  error: string | null;
}

// CommonJS run by each worker (eval: the same code under vitest's TypeScript and in dist). It lowers its own thread's
// priority before it takes any job; the main thread checks the result and falls back if it is not what was asked.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { readlinkSync } = require('node:fs');
const { getPriority, setPriority } = require('node:os');
let argon2;
const hello = { tid: null, nice: null, error: null };
try {
  argon2 = require(workerData.library);
  // /proc/thread-self -> "<pid>/task/<tid>": this thread's kernel id.
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (!Number.isInteger(tid) || tid <= 0) throw new Error('no thread id in /proc/thread-self');
  setPriority(tid, Math.min(19, getPriority(tid) + workerData.niceIncrement));
  hello.tid = tid;
  hello.nice = getPriority(tid);
} catch (error) {
  hello.error = String((error && error.message) || error);
}
parentPort.postMessage(hello);
parentPort.on('message', ({ id, job }) => {
  try {
    const value =
      job.op === 'verify'
        ? argon2.verifySync(job.hash, job.password)
        : argon2.hashSync(job.password, {
            algorithm: 2, // Argon2id
            memoryCost: job.params.memoryKib,
            timeCost: job.params.iterations,
            parallelism: job.params.parallelism,
          });
    parentPort.postMessage({ id, value });
  } catch (error) {
    parentPort.postMessage({ id, error: String((error && error.message) || error) });
  }
});
`;

interface Slot {
  worker: Worker;
  tid: number;
  busy: { id: number; pending: Pending } | null;
}

export interface PasswordHasherOptions {
  /** Hashes at a time (threads). Default: availableParallelism(). */
  threads?: number;
  /** Default: process.platform. Anything but 'linux' uses libuv's pool. */
  platform?: NodeJS.Platform;
}

/** Runs argon2 hashes and verifications where they cannot starve the event loop (see the top of this file). */
export class PasswordHasher {
  private readonly threads: number;
  private readonly platform: NodeJS.Platform;
  private started: Promise<PasswordHashingMode> | undefined;
  private slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private readonly inPool: ReturnType<typeof pLimit>;

  constructor(options: PasswordHasherOptions = {}) {
    this.threads = Math.max(1, options.threads ?? availableParallelism());
    this.platform = options.platform ?? process.platform;
    this.inPool = pLimit(this.threads);
  }

  /** Hashes at a time. */
  get threadCount(): number {
    return this.threads;
  }

  /** Whether the workers were started (or are starting). */
  get hasStarted(): boolean {
    return this.started !== undefined;
  }

  /** Starts the workers once (on first use); resolves to where hashes run from then on. */
  mode(): Promise<PasswordHashingMode> {
    this.started ??= this.start();
    return this.started;
  }

  async hash(password: string, params: PasswordHashParams): Promise<string> {
    return (await this.run({ op: 'hash', password, params })) as string;
  }

  async verify(hash: string, password: string): Promise<boolean> {
    return (await this.run({ op: 'verify', hash, password })) as boolean;
  }

  /** Stops the workers (tests); a later call starts them again. */
  async close(): Promise<void> {
    const slots = this.slots;
    this.slots = [];
    this.started = undefined;
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  private async run(job: Job): Promise<string | boolean> {
    const mode = await this.mode();
    if (mode.mode === 'thread-pool') return this.inPool(() => runInPool(job));
    return new Promise((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.dispatch();
    });
  }

  private async start(): Promise<PasswordHashingMode> {
    if (this.platform !== 'linux') return { mode: 'thread-pool', reason: `per-thread priority needs Linux` };
    const started = await Promise.allSettled(Array.from({ length: this.threads }, () => startWorker()));
    const slots = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failure = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    // Threads start at their creator's nice value: the event loop's.
    const nice = Math.min(19, getPriority() + NICE_INCREMENT);
    const wrong = slots.find((slot) => slot.nice !== nice);
    if (failure || wrong) {
      await Promise.all(slots.map((slot) => slot.worker.terminate()));
      const reason = failure
        ? String(failure.reason?.message ?? failure.reason)
        : `a hashing thread runs at nice ${wrong?.nice}, not ${nice}`;
      return { mode: 'thread-pool', reason };
    }
    for (const { worker, tid } of slots) {
      const slot: Slot = { worker, tid, busy: null };
      worker.on('message', (message: { id: number; value?: string | boolean; error?: string }) => {
        const busy = slot.busy;
        if (!busy || busy.id !== message.id) return;
        slot.busy = null;
        worker.unref();
        if (message.error === undefined) busy.pending.resolve(message.value as string | boolean);
        else busy.pending.reject(new Error(message.error));
        this.dispatch();
      });
      // A worker that dies (it should not) fails its job; the others carry on, and none left means errors.
      worker.on('exit', () => {
        this.slots = this.slots.filter((other) => other !== slot);
        slot.busy?.pending.reject(new Error('password hashing thread exited'));
        slot.busy = null;
        if (this.slots.length === 0) {
          this.started = undefined; // the next hash starts new workers
          for (const pending of this.queue.splice(0)) pending.reject(new Error('no password hashing thread'));
        }
      });
      // Referenced only while hashing (dispatch): an idle pool does not keep a CLI process alive. After the listeners:
      // adding a 'message' listener references the worker's port again.
      worker.unref();
      this.slots.push(slot);
    }
    return { mode: 'low-priority-workers', threadIds: slots.map((slot) => slot.tid), nice };
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.busy) continue;
      const pending = this.queue.shift() as Pending;
      const id = this.nextId++;
      slot.busy = { id, pending };
      slot.worker.ref();
      slot.worker.postMessage({ id, job: pending.job });
    }
  }
}

const library = createRequire(import.meta.url).resolve('@node-rs/argon2');

/** One hashing worker, once it has lowered its priority (rejects, and is terminated, if it could not). */
function startWorker(): Promise<{ worker: Worker; tid: number; nice: number }> {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { library, niceIncrement: NICE_INCREMENT },
    // Its JavaScript is a few lines: a small heap keeps the thread's share of the RSS small (argon2's memory is native).
    // Note: V8 applies --max-old-space-size / --max-semi-space-size (the start script's) to every isolate over these;
    // the workers' heaps stay ~5 MB each anyway (v8.getHeapStatistics() in a worker under pnpm bench).
    resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 },
  });
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      void worker.terminate();
      reject(error);
    };
    worker.once('error', fail);
    worker.once('exit', (code) => reject(new Error(`password hashing thread exited (${code}) before starting`)));
    worker.once('message', (hello: WorkerHello) => {
      worker.removeAllListeners('error');
      worker.removeAllListeners('exit');
      // Later errors (there should be none) end the worker; its 'exit' handler then fails the job it had.
      worker.on('error', () => {});
      if (hello.error !== null || hello.tid === null || hello.nice === null) {
        fail(new Error(hello.error ?? 'no thread id'));
      } else {
        resolve({ worker, tid: hello.tid, nice: hello.nice });
      }
    });
  });
}

function runInPool(job: Job): Promise<string | boolean> {
  return job.op === 'verify'
    ? argon2.verify(job.hash, job.password)
    : argon2.hash(job.password, {
        algorithm: 2, // Argon2id (a const enum in the library's types)
        memoryCost: job.params.memoryKib,
        timeCost: job.params.iterations,
        parallelism: job.params.parallelism,
      });
}

let hasher = new PasswordHasher();

/**
 * Where this process hashes passwords (starts the hashing threads if they are not yet): logged once at startup.
 * `threads` (PASSWORD_HASH_THREADS) sizes the threads before they start; once started, the first size stays.
 */
export function passwordHashingMode(threads?: number): Promise<PasswordHashingMode> {
  if (threads !== undefined && !hasher.hasStarted && hasher.threadCount !== threads) {
    hasher = new PasswordHasher({ threads });
  }
  return hasher.mode();
}

/** An argon2id PHC string for `password` with the given cost. */
export function hashPassword(password: string, params: PasswordHashParams): Promise<string> {
  return hasher.hash(password, params);
}

/** Whether `password` matches `hash` (argon2 compares in constant time). */
export function verifyPassword(hash: string, password: string): Promise<boolean> {
  return hasher.verify(hash, password);
}

/**
 * An argon2id PHC string with the given cost that no password matches: a random salt and a random 32-byte "hash".
 * Verifying a password against it runs the full argon2 computation with that cost (the library derives the hash from
 * the password and the salt, then compares), so it costs what a real hash with these parameters costs, without
 * hashing anything to make it: startup no longer waits ~30-90 ms for a real hash (readiness, pnpm bench). The chance
 * that some password derives these 32 random bytes is 2^-256.
 */
export function unmatchablePasswordHash(params: PasswordHashParams): string {
  // PHC strings use standard base64 without padding (16-byte salt -> 22 characters, 32-byte hash -> 43).
  const b64 = (bytes: number) => randomBytes(bytes).toString('base64').replace(/=+$/, '');
  const { memoryKib, iterations, parallelism } = params;
  return `$argon2id$v=19$m=${memoryKib},t=${iterations},p=${parallelism}$${b64(16)}$${b64(32)}`;
}

/**
 * Whether a stored hash is weaker than the current parameters (or not argon2id v19) and should be upgraded. Only
 * weaker: during a rolling deploy an instance still on older settings must not downgrade hashes already upgraded.
 */
export function passwordHashNeedsUpgrade(hash: string, params: PasswordHashParams): boolean {
  // PHC string: $argon2id$v=19$m=19456,t=2,p=1$salt$hash (the order of m, t, p varies between libraries).
  const [, algorithm, version, settings] = hash.split('$');
  if (algorithm !== 'argon2id' || version !== 'v=19' || settings === undefined) return true;
  const cost = Object.fromEntries(settings.split(',').map((pair) => pair.split('=') as [string, string]));
  const [memoryKib, iterations, parallelism] = [Number(cost.m), Number(cost.t), Number(cost.p)];
  if (![memoryKib, iterations, parallelism].every(Number.isInteger)) return true;
  return memoryKib < params.memoryKib || iterations < params.iterations || parallelism < params.parallelism;
}
