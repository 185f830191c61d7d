import type { BackoffPolicy } from '@mxp/db/backoff';
import { Type } from 'typebox';

/** Variables of the brute-force backoff, shared by both services (accounts in one, client ids in the other). */
export const BackoffConfigProperties = {
  BACKOFF_MAX_FAILURES: Type.Integer({
    minimum: 1,
    maximum: 1000,
    default: 5,
    description: 'Consecutive failed authentications of one account or client id that start a lock (again after each)',
  }),
  BACKOFF_BASE_SECONDS: Type.Integer({
    minimum: 1,
    maximum: 86_400,
    default: 30,
    description: 'Length of the first lock; each further lock lasts twice as long',
  }),
  BACKOFF_MAX_SECONDS: Type.Integer({
    minimum: 1,
    maximum: 86_400,
    default: 900,
    description: 'Longest lock: every lock ends by itself',
  }),
  BACKOFF_RESET_SECONDS: Type.Integer({
    minimum: 1,
    maximum: 604_800,
    default: 900,
    description: 'Failures and past locks are forgotten after this long without a failure or a lock',
  }),
};

/** The backoff policy of a service's configuration. */
export function backoffPolicyOf(config: {
  BACKOFF_MAX_FAILURES: number;
  BACKOFF_BASE_SECONDS: number;
  BACKOFF_MAX_SECONDS: number;
  BACKOFF_RESET_SECONDS: number;
}): BackoffPolicy {
  return {
    maxFailures: config.BACKOFF_MAX_FAILURES,
    baseSeconds: config.BACKOFF_BASE_SECONDS,
    maxSeconds: config.BACKOFF_MAX_SECONDS,
    resetSeconds: config.BACKOFF_RESET_SECONDS,
  };
}
