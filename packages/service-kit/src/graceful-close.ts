import fp from 'fastify-plugin';

/**
 * Once the app starts closing, every response tells its client to close the connection (`Connection: close`).
 * Node closes the connections that are idle when the server closes, but a keep-alive connection busy with a request
 * at that moment would otherwise be kept open after its answer, and the close would wait for the client to drop it
 * (an ingress keeps its upstream connections for a minute) until close-with-grace gives up and exits.
 */
export const gracefulClose = fp(
  async (app) => {
    let closing = false;
    app.addHook('preClose', (done) => {
      closing = true;
      done();
    });
    app.addHook('onSend', (request, reply, payload, done) => {
      // HTTP/2 has no Connection header (its streams end with the session).
      if (closing && request.raw.httpVersionMajor === 1) reply.header('connection', 'close');
      done(null, payload);
    });
  },
  { name: 'mxp-graceful-close', fastify: '5.x' },
);
