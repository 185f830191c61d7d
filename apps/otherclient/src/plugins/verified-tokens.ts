import { VerifiedTokenCache } from '@mxp/jwt-core';
import fp from 'fastify-plugin';
import type { AccessTokenClaims } from '../services/access-tokens.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Claims of access tokens introspection or token info already verified (see services/access-tokens.ts). */
    verifiedTokens: VerifiedTokenCache<AccessTokenClaims>;
  }
}

export interface VerifiedTokensPluginOptions {
  /** VERIFIED_TOKEN_CACHE_MAX_ENTRIES: 0 keeps nothing. */
  maxEntries: number;
}

/**
 * This replica's verified access tokens. Nothing needs invalidating: an entry only spares a signature check made with
 * keys fixed for the process's life, and revocation, the client's state and its audience are checked on every call.
 */
export const verifiedTokensPlugin = fp<VerifiedTokensPluginOptions>(
  async (app, options) => {
    app.decorate('verifiedTokens', new VerifiedTokenCache<AccessTokenClaims>(options.maxEntries));
  },
  { name: 'otherclient-verified-tokens', fastify: '5.x' },
);
