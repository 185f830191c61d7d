import { bearerTokenFrom, HttpError } from '@mxp/service-kit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { type ActiveSession, checkAccessToken } from '../services/session-cache.js';
import type { AccessTokenClaims } from '../services/tokens.js';

/** The caller of a Bearer route: a verified access token whose session is still active. */
export interface AuthenticatedCaller extends AccessTokenClaims {
  /** What validation read of the session (routes that show more of it read the row). */
  session: ActiveSession;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `app.requireSession` on the five Bearer routes. */
    caller: AuthenticatedCaller | null;
  }
  interface FastifyInstance {
    /** preHandler: 401 in the envelope unless the request carries a valid access token of an active session. */
    requireSession: (request: FastifyRequest) => Promise<void>;
    /** The caller of a request, or the reason it has none (for `POST /auth/token/validate`'s own answer). */
    identifyCaller: (request: FastifyRequest) => Promise<AuthenticatedCaller | CallerRefusal>;
  }
}

export interface CallerRefusal {
  refused: 'missing' | 'invalid' | 'expired' | 'session_inactive';
}

/**
 * Bearer authentication of the SSO routes: the token's signature and claims, then its session (see the session-cache
 * plugin for how that stays exact without reading the database each time).
 */
export const authPlugin = fp<{ issuer: string }>(
  async (app: FastifyInstance, { issuer }) => {
    app.decorateRequest('caller', null);
    const context = {
      keySet: app.signingKeys,
      issuer,
      verifiedTokens: app.verifiedTokens,
      sessionCache: app.sessionCache,
    };

    async function identifyCaller(request: FastifyRequest): Promise<AuthenticatedCaller | CallerRefusal> {
      const token = bearerTokenFrom(request.headers.authorization);
      if (token === undefined) return { refused: 'missing' };
      const check = await checkAccessToken(context, token, new Date());
      if (check.ok) {
        // The request's log line names whom it acted for (requestLogging).
        request.subject = `user:${check.claims.userId}`;
        return { ...check.claims, session: check.session };
      }
      if ('code' in check) request.log.info({ code: check.code }, 'access token refused');
      return { refused: check.refused };
    }

    app.decorate('identifyCaller', identifyCaller);
    app.decorate('requireSession', async (request: FastifyRequest) => {
      const caller = await identifyCaller(request);
      if ('refused' in caller) {
        throw new HttpError('UNAUTHORIZED', { headers: { 'www-authenticate': bearerChallenge(caller) } });
      }
      request.caller = caller;
    });
  },
  { name: 'mxp-auth', fastify: '5.x', dependencies: ['mxp-db', 'mxp-signing-keys', 'mxp-session-cache'] },
);

/** RFC 6750 §3: no error code when no token was sent, `invalid_token` otherwise. */
export function bearerChallenge(refusal: CallerRefusal): string {
  return refusal.refused === 'missing' ? 'Bearer realm="mxp-auth"' : 'Bearer realm="mxp-auth", error="invalid_token"';
}

/** The caller set by `requireSession` (routes without it have none, which is a programming error). */
export function callerOf(request: FastifyRequest): AuthenticatedCaller {
  if (!request.caller) throw new Error('route is missing the requireSession preHandler');
  return request.caller;
}
