// The peer: oidc-provider (pinned in the workspace catalog: 8.8.1, its last release line that supports Node 20; 9.x
// wants Node 22) configured for what otherclient's OAuth endpoints do, run as plain `node bench/dist/servers/peer.js`
// with NODE_ENV=production.
//
// - one confidential client, `client_secret_basic`, grant `client_credentials` only, one scope;
// - the token endpoint issues RFC 9068 JWT access tokens signed ES256 (resource indicators: a request without
//   `resource` gets the default resource server, whose tokens are `jwt`), lifetime 3600 s like otherclient's default;
// - introspection is on. oidc-provider stores only opaque tokens (a JWT access token is not kept anywhere, so it
//   cannot introspect one): a second resource server issues opaque tokens, which the harness requests once with
//   `resource=<PEER_OPAQUE_RESOURCE>` and then introspects under load;
// - the default in-memory adapter: nothing is written anywhere, unlike otherclient, which audits every token in
//   PostgreSQL. This flatters the peer, and the report says so;
// - no request logging (oidc-provider has none of its own), which flatters it a little too.
import { randomBytes } from 'node:crypto';
import { Provider, type ResourceServer } from 'oidc-provider';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

const port = Number(required('PORT'));
const host = process.env.HOST ?? '127.0.0.1';
const scope = required('PEER_SCOPE');
const audience = required('PEER_AUDIENCE');
const opaqueResource = required('PEER_OPAQUE_RESOURCE');
const jwtResource = `https://${audience}`;
const TOKEN_TTL_SECONDS = 3600;

const resourceServers: Record<string, ResourceServer> = {
  [jwtResource]: {
    scope,
    audience,
    accessTokenTTL: TOKEN_TTL_SECONDS,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'ES256' } },
  },
  [opaqueResource]: { scope, audience, accessTokenTTL: TOKEN_TTL_SECONDS, accessTokenFormat: 'opaque' },
};

const provider = new Provider(required('PEER_ISSUER'), {
  clients: [
    {
      client_id: required('PEER_CLIENT_ID'),
      client_secret: required('PEER_CLIENT_SECRET'),
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope,
    },
  ],
  jwks: JSON.parse(required('PEER_JWKS')),
  // The only key is ES256; oidc-provider's default client algorithm is RS256.
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  // Production settings where oidc-provider warns about its defaults (no cookie is used by these endpoints).
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  ttl: { ClientCredentials: TOKEN_TTL_SECONDS },
  scopes: [scope],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // As otherclient: a client learns about its own tokens only.
    introspection: {
      enabled: true,
      allowedPolicy: (ctx, _client, token) => token.clientId === ctx.oidc.client?.clientId,
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => jwtResource,
      getResourceServerInfo: (_ctx, resourceIndicator) => {
        const server = resourceServers[resourceIndicator];
        if (!server) throw new Error(`unknown resource ${resourceIndicator}`);
        return server;
      },
    },
  },
});

const server = provider.listen(port, host);

process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  // Keep-alive connections of the load generator may hold close() open; they are idle by now.
  server.closeAllConnections();
});
