import fp from 'fastify-plugin';
import { urlForLog } from './logger.js';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Who the request acted for, once a route knows (`client:<id>`, `user:<id>`): written in the request's log line
     * so an operator can follow one integrator or user. Never a secret.
     */
    subject: string | undefined;
  }
}

/**
 * One JSON log line per request, written when the response is sent: request id, method, path (query values blanked),
 * route, status, latency, client address and subject. Fastify's own two lines per request ("incoming request",
 * "request completed") are turned off in `baseFastifyOptions`: one line carries everything and costs half as much.
 * The request id is also echoed in `X-Request-Id`, so a client's bug report can be matched with the line.
 */
export const requestLogging = fp(
  async (app) => {
    app.decorateRequest('subject', undefined);
    app.addHook('onRequest', async (request, reply) => {
      reply.header('x-request-id', request.id);
    });
    app.addHook('onResponse', async (request, reply) => {
      const statusCode = reply.statusCode;
      const line = {
        method: request.method,
        url: urlForLog(request.url),
        route: request.routeOptions.url,
        statusCode,
        responseTimeMs: Math.round(reply.elapsedTime * 100) / 100,
        ip: request.ip,
        subject: request.subject,
      };
      if (statusCode >= 500) request.log.error(line, 'request completed');
      else request.log.info(line, 'request completed');
    });
  },
  { name: 'mxp-request-logging', fastify: '5.x' },
);
