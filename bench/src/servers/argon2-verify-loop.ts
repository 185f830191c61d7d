// The ceiling of `POST /auth/login`: argon2id verifications of one hash at the service's production cost, as fast as
// this machine does them, with nothing else (no HTTP, no database). Run as plain `node` in its own process like a
// service. Same library and execution model as the service (apps/auth-service/src/services/passwords.ts):
// @node-rs/argon2's verifySync in worker threads, one verification at a time each, so that login is compared with
// what its own hashing can do (the `argon2` package, which the service used before, verifies about half as fast per
// core here). Measured with as many threads as cores and with 4, one after the other, and the better rate is the
// ceiling (at 19 MiB per hash, more hashes in flight than cores can be slower: they fight over the caches and the
// memory bus). The threads keep normal priority: nothing competes with them here. Counts the verifications that finish
// during each measured window, after a warm-up, and prints one JSON line:
// {"verifies", "seconds", "perSecond", "concurrency", "tried"} for the better run.
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { hashSync } from '@node-rs/argon2';

const memoryCost = Number(process.env.ARGON2_MEMORY_KIB ?? 19_456);
const timeCost = Number(process.env.ARGON2_ITERATIONS ?? 2);
const parallelism = Number(process.env.ARGON2_PARALLELISM ?? 1);
const warmupMs = Number(process.env.WARMUP_SECONDS ?? 2) * 1000;
const measureMs = Number(process.env.DURATION_SECONDS ?? 10) * 1000;
const CONCURRENCIES = [...new Set([availableParallelism(), 4])];

const password = 'correct horse battery staple';
const hash = hashSync(password, { algorithm: 2 /* Argon2id */, memoryCost, timeCost, parallelism });
const library = createRequire(import.meta.url).resolve('@node-rs/argon2');

// Each thread verifies until the window ends and posts how many finished inside it (timed with the shared clock).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { verifySync } = require(workerData.library);
const { hash, password, measureFrom, end } = workerData;
let verifies = 0;
while (performance.timeOrigin + performance.now() < end) {
  if (!verifySync(hash, password)) throw new Error('argon2 verification failed');
  const finished = performance.timeOrigin + performance.now();
  if (finished >= measureFrom && finished < end) verifies++;
}
parentPort.postMessage(verifies);
`;

async function measure(concurrency: number): Promise<{ verifies: number; concurrency: number }> {
  const start = performance.timeOrigin + performance.now();
  const measureFrom = start + warmupMs;
  const end = measureFrom + measureMs;
  const counts = await Promise.all(
    Array.from(
      { length: concurrency },
      () =>
        new Promise<number>((resolve, reject) => {
          const worker = new Worker(WORKER_SOURCE, {
            eval: true,
            workerData: { library, hash, password, measureFrom, end },
          });
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    ),
  );
  return { verifies: counts.reduce((a, b) => a + b, 0), concurrency };
}

const tried: Array<{ verifies: number; concurrency: number }> = [];
for (const concurrency of CONCURRENCIES) tried.push(await measure(concurrency));
const best = tried.reduce((a, b) => (b.verifies > a.verifies ? b : a));
const seconds = measureMs / 1000;
process.stdout.write(
  `${JSON.stringify({ verifies: best.verifies, seconds, perSecond: best.verifies / seconds, concurrency: best.concurrency, tried })}\n`,
);
