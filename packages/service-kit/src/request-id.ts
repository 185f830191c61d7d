import fp from 'fastify-plugin';

/** Echoes the request id in `X-Request-Id`, so a client's bug report can be matched with the log line. */
export const requestIdHeader = fp(
  async (app) => {
    app.addHook('onRequest', async (request, reply) => {
      reply.header('x-request-id', request.id);
    });
  },
  { name: 'mxp-request-id', fastify: '5.x' },
);
