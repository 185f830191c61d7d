import type { FastifyServerOptions } from 'fastify';
import { loggerOptions, requestIdFrom, trustProxyOption } from './logger.js';

/** The Fastify server options both services start from (logging, request ids, proxies, body size). */
export function baseFastifyOptions(
  config: { LOG_LEVEL: string; NODE_ENV: string; TRUST_PROXY: string; BODY_LIMIT_BYTES: number },
  serviceName: string,
): FastifyServerOptions {
  return {
    logger: loggerOptions({ ...config, serviceName }),
    genReqId: requestIdFrom,
    trustProxy: trustProxyOption(config.TRUST_PROXY),
    bodyLimit: config.BODY_LIMIT_BYTES,
    // Reject requests that arrive while closing with 503, so the ingress retries on another replica.
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
  };
}
