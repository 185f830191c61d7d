import rateLimit from '@fastify/rate-limit';
import fp from 'fastify-plugin';
import { Type } from 'typebox';

/** Variables of the request limits, shared by both services. */
export const RateLimitConfigProperties = {
  RATE_LIMIT_GLOBAL_PER_MINUTE: Type.Integer({
    minimum: 1,
    default: 1_000,
    description: 'Requests per minute per client address, on every route but health',
  }),
  RATE_LIMIT_CREDENTIALS_PER_MINUTE: Type.Integer({
    minimum: 1,
    default: 120,
    description: 'Requests per minute per client address on the routes that check credentials',
  }),
};

/**
 * Limits requests per client address (`request.ip`, which honours TRUST_PROXY only, so a forged X-Forwarded-For
 * cannot mint new buckets). Counters are in memory; routes tighten the limit with `config.rateLimit`.
 */
export const rateLimitPlugin = fp<{ globalPerMinute: number }>(
  async (app, options) => {
    await app.register(rateLimit, {
      global: true,
      max: options.globalPerMinute,
      timeWindow: 60_000,
      // Thrown into the service's error handler, which answers 429 in the service's own envelope.
      errorResponseBuilder: (_request, context) =>
        Object.assign(new Error(`Rate limit exceeded, retry in ${context.after}`), {
          statusCode: 429,
          code: 'ERR_RATE_LIMITED',
        }),
    });
  },
  { name: 'mxp-rate-limit', fastify: '5.x' },
);
