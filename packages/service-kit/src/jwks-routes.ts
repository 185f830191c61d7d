import { JwksResponse } from '@mxp/contracts';
import { exportJwks } from '@mxp/jwt-core';
import type { FastifyPluginAsync } from 'fastify';

/** `GET <prefix>/.well-known/jwks.json`: the public keys of `app.signingKeys`, for local verification. */
export const jwksRoutes: FastifyPluginAsync = async (app) => {
  // Keys only change with a restart, so the document is built once.
  const jwks = exportJwks(app.signingKeys);
  app.get(
    '/.well-known/jwks.json',
    { schema: { summary: 'Public keys that verify this service’s tokens', response: { 200: JwksResponse } } },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return jwks;
    },
  );
};
