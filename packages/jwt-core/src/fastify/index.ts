// `@mxp/jwt-core/fastify`: what a downstream Fastify service needs to accept access tokens. A separate entry point so
// that the core (used by issuers and non-Fastify code) never loads Fastify.

export type { AccessToken } from './access-token.js';
export {
  type AccessTokenAuthOptions,
  type AccessTokenGuard,
  accessTokenAuth,
  type RequireAccessTokenOptions,
} from './access-token-auth.js';
export { AccessTokenError, type AccessTokenErrorCode } from './access-token-error.js';
