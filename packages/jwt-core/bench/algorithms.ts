/**
 * Sign/s and verify/s of this package's own signJwt/verifyJwt per algorithm, in one process so the numbers compare.
 * Each measurement runs after a warm-up, sequentially (one operation in flight: latency-bound) and with 32 in flight
 * (what a busy server sees: Web Crypto runs on libuv's thread pool, so concurrency can use more than one core).
 * Algorithms are interleaved over several rounds and the median is reported, so a burst of load from something
 * else on the machine skews one sample rather than one algorithm.
 *
 *   pnpm --filter @mxp/jwt-core bench            (BENCH_SECONDS / BENCH_ROUNDS to change the defaults)
 */
import { cpus, totalmem } from 'node:os';
import { generateSigningKey, importKeySet, type SigningAlgorithm, signJwt, verifyJwt } from '@mxp/jwt-core';

const MEASURE_MS = Number(process.env.BENCH_SECONDS ?? 1.5) * 1000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP_MS = 500;
const IN_FLIGHT = 32;
const ALGORITHMS: readonly SigningAlgorithm[] = ['ES256', 'EdDSA', 'HS256', 'RS256'];

async function opsPerSecond(operation: () => Promise<unknown>, concurrency: number, durationMs: number) {
  let count = 0;
  const start = performance.now();
  const end = start + durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      await operation();
      count++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return count / ((performance.now() - start) / 1000);
}

const claims = { client_id: 'bench-client', scope: 'api:read api:write' };
const signOptions = {
  typ: 'at+jwt',
  issuer: 'https://auth.example.test',
  audience: 'https://api.example.test',
  subject: 'bench-client',
  expiresInSeconds: 3600,
};
const verifyOptions = {
  issuer: signOptions.issuer,
  audience: signOptions.audience,
  typ: 'at+jwt',
  requiredClaims: ['client_id'],
};

type Cell = 'signSequential' | 'signConcurrent' | 'verifySequential' | 'verifyConcurrent';
const CELLS: readonly Cell[] = ['signSequential', 'signConcurrent', 'verifySequential', 'verifyConcurrent'];

const subjects = [];
for (const alg of ALGORITHMS) {
  const keySet = await importKeySet({ jwks: { keys: [await generateSigningKey(alg)] } });
  const { token } = await signJwt(keySet, claims, signOptions);
  const options = { ...verifyOptions, algorithms: [alg] };
  const sign = () => signJwt(keySet, claims, signOptions);
  const verify = () => verifyJwt(token, keySet, options);
  await opsPerSecond(sign, IN_FLIGHT, WARMUP_MS);
  await opsPerSecond(verify, IN_FLIGHT, WARMUP_MS);
  const samples: Record<Cell, number[]> = {
    signSequential: [],
    signConcurrent: [],
    verifySequential: [],
    verifyConcurrent: [],
  };
  subjects.push({ alg, tokenBytes: token.length, sign, verify, samples });
}

for (let round = 1; round <= ROUNDS; round++) {
  for (const { sign, verify, samples } of subjects) {
    samples.signSequential.push(await opsPerSecond(sign, 1, MEASURE_MS));
    samples.signConcurrent.push(await opsPerSecond(sign, IN_FLIGHT, MEASURE_MS));
    samples.verifySequential.push(await opsPerSecond(verify, 1, MEASURE_MS));
    samples.verifyConcurrent.push(await opsPerSecond(verify, IN_FLIGHT, MEASURE_MS));
  }
  process.stderr.write(`round ${round}/${ROUNDS} done\n`);
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};
const format = (value: number) => Math.round(value).toLocaleString('en-US');

const cpu = cpus();
console.log(
  `Node ${process.version}, ${cpu.length} vCPU (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ` +
    `${Math.round(totalmem() / 2 ** 30)} GiB; median of ${ROUNDS} interleaved rounds of ${MEASURE_MS / 1000} s ` +
    `per cell, after a ${WARMUP_MS} ms warm-up\n`,
);
console.log(
  `| alg | sign/s (1 in flight) | sign/s (${IN_FLIGHT} in flight) | verify/s (1 in flight) | verify/s (${IN_FLIGHT} in flight) | token bytes |`,
);
console.log('|---|---:|---:|---:|---:|---:|');
for (const { alg, tokenBytes, samples } of subjects) {
  const cells = CELLS.map((cell) => format(median(samples[cell])));
  console.log(`| ${alg} | ${cells.join(' | ')} | ${tokenBytes} |`);
}
