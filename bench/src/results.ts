import type { CpuShares } from './cpu.js';
import type { StepName } from './options.js';

/** One measured scenario: a load against one server process. */
export interface ScenarioResult {
  name: StepName;
  /** The process whose memory was watched. */
  server: string;
  /** 2xx answers per second (for argon2-raw: verifications per second). */
  requestsPerSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
  /** Socket errors and timeouts plus non-2xx answers. */
  errors: number;
  statusCodes: Record<string, number>;
  peakRssMb: number;
  /** Where the machine's CPU went during the measured window. */
  cpu: CpuShares;
  /** Connections of the load (for a fixed-rate load: the most it may open). */
  connections: number | null;
  /** Requests per second of a fixed-rate load. */
  rate?: number;
  seconds: number;
  /** req/s of the floor measured just before this scenario (same warm-up and window), when the floor step ran. */
  floorBeside?: number;
  detail?: Record<string, unknown>;
}

export interface RevocationResult {
  /** From instance A's answer to the logout to instance B's first 401 (null: not within 5 s). */
  visibleMs: number | null;
  /** From the logout being sent. */
  sinceLogoutSentMs: number | null;
  polls: number;
}

/** Everything measured in one run. */
export interface Measurements {
  scenarios: ScenarioResult[];
  /** Milliseconds from spawn to the readiness route's first 200, per server process. */
  readyMs: Record<string, number>;
  /** Milliseconds to the first 200 of each cold start of the `readiness` step, per service. */
  readiness?: Record<string, number[]>;
  revocation?: RevocationResult;
}
