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
    // A request that reaches the process while it closes (on a connection accepted before it stopped listening) is
    // served, with `Connection: close`, not refused with 503: nginx does not pass a 503 to the next replica (and never
    // a POST it has sent), so the client would get it, in Fastify's shape instead of the envelope. Closing waits for
    // these requests; the database closes after them (e2e/test/ingress.test.ts, "stopped mid-run").
    return503OnClosing: false,
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
