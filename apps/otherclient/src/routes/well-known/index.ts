import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AuthorizationServerMetadata } from '@mxp/contracts';

const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post'];

/** `GET /.well-known/oauth-authorization-server` (RFC 8414), so stock OAuth clients need only the issuer URL. */
export const wellKnownRoutes: FastifyPluginAsyncTypebox<{ issuer: string }> = async (app, { issuer }) => {
  const base = issuer.replace(/\/+$/, '');
  const metadata = {
    issuer,
    token_endpoint: `${base}/oauth/token`,
    jwks_uri: `${base}/.well-known/jwks.json`,
    introspection_endpoint: `${base}/oauth/introspect`,
    revocation_endpoint: `${base}/oauth/revoke`,
    grant_types_supported: ['client_credentials'],
    // RFC 8414 requires the member; this server has no authorization endpoint, hence no response types.
    response_types_supported: [],
    token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    introspection_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
  };
  app.get(
    '/.well-known/oauth-authorization-server',
    { schema: { summary: 'OAuth 2.0 authorization server metadata', response: { 200: AuthorizationServerMetadata } } },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return metadata;
    },
  );
};
