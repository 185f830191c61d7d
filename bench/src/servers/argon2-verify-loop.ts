// The ceiling of `POST /auth/login`: argon2id verifications of one hash at the service's production cost, as fast as
// this machine does them, with nothing else (no HTTP, no database). Run as plain `node` in its own process like a
// service. argon2 runs on libuv's thread pool (4 threads): it is measured with as many verifications in flight as
// there are cores and with 4 (the pool's size), one after the other, and the better rate is the ceiling (at 19 MiB
// per hash, more hashes in flight than cores can be slower: they fight over the caches and the memory bus). Counts
// the verifications that finish during each measured window, after a warm-up, and prints one JSON line:
// {"verifies", "seconds", "perSecond", "concurrency", "tried"} for the better run.
import { availableParallelism } from 'node:os';
import argon2 from 'argon2';

const memoryCost = Number(process.env.ARGON2_MEMORY_KIB ?? 19_456);
const timeCost = Number(process.env.ARGON2_ITERATIONS ?? 2);
const parallelism = Number(process.env.ARGON2_PARALLELISM ?? 1);
const warmupMs = Number(process.env.WARMUP_SECONDS ?? 2) * 1000;
const measureMs = Number(process.env.DURATION_SECONDS ?? 10) * 1000;
const CONCURRENCIES = [...new Set([availableParallelism(), Number(process.env.UV_THREADPOOL_SIZE ?? 4)])];

const password = 'correct horse battery staple';
const hash = await argon2.hash(password, { type: argon2.argon2id, memoryCost, timeCost, parallelism });

async function measure(concurrency: number): Promise<{ verifies: number; concurrency: number }> {
  const start = performance.now();
  const measureFrom = start + warmupMs;
  const end = measureFrom + measureMs;
  let verifies = 0;
  async function worker(): Promise<void> {
    while (performance.now() < end) {
      if (!(await argon2.verify(hash, password))) throw new Error('argon2 verification failed');
      const finished = performance.now();
      if (finished >= measureFrom && finished < end) verifies++;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { verifies, concurrency };
}

const tried: Array<{ verifies: number; concurrency: number }> = [];
for (const concurrency of CONCURRENCIES) tried.push(await measure(concurrency));
const best = tried.reduce((a, b) => (b.verifies > a.verifies ? b : a));
const seconds = measureMs / 1000;
process.stdout.write(
  `${JSON.stringify({ verifies: best.verifies, seconds, perSecond: best.verifies / seconds, concurrency: best.concurrency, tried })}\n`,
);
