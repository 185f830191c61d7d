import { type FastifyReply, type FastifyServerOptions, LogController } from 'fastify';
import { errorEnvelope } from './http-error.js';
import { lazyChildLoggerFactory, loggerOptions, requestIdFrom, trustProxyOption } from './logger.js';

/** The Fastify server options both services start from (logging, request ids, proxies, body size). */
export function baseFastifyOptions(
  config: { LOG_LEVEL: string; NODE_ENV: string; TRUST_PROXY: string; BODY_LIMIT_BYTES: number },
  serviceName: string,
): FastifyServerOptions {
  return {
    logger: loggerOptions({ ...config, serviceName }),
    genReqId: requestIdFrom,
    // `requestLogging` writes one line per request instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: lazyChildLoggerFactory,
    trustProxy: trustProxyOption(config.TRUST_PROXY),
    bodyLimit: config.BODY_LIMIT_BYTES,
    // Reject requests that arrive while closing with 503, so the ingress retries on another replica.
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // Errors Fastify raises before routing (a path that does not decode, a path parameter over maxParamLength) are
    // answered in the envelope too, never in Fastify's own shape.
    frameworkErrors: (error, _request, reply) => {
      const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
      // Typed replies need a status literal; this handler runs for no route, so the reply is plain.
      (reply as FastifyReply).code(status).send(errorEnvelope('BAD_REQUEST', undefined, status));
    },
  };
}
