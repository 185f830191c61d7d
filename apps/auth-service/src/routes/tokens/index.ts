import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  ErrorEnvelope,
  RefreshRequest,
  RefreshResponse,
  ValidateErrorResponse,
  ValidateResponse,
} from '@mxp/contracts';
import { HttpError } from '@mxp/service-kit';
import { bearerChallenge } from '../../plugins/auth.js';
import { refreshSession } from '../../services/refresh.js';
import { sessionOfRefreshToken } from '../../services/session-cache.js';
import { issueSessionAccessToken } from '../../services/tokens.js';
import { originOf } from '../origin.js';

// An answer about a token is never to be cached by an intermediary, nor sniffed as anything but JSON.
const MACHINE_CALLER_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const;

export interface TokenRoutesOptions {
  issuer: string;
  reuseGraceSeconds: number;
  credentialsPerMinute: number;
}

/** `POST /token/refresh` (refresh token in the body) and `POST /token/validate` (the gateway's check). */
export const tokenRoutes: FastifyPluginAsyncTypebox<TokenRoutesOptions> = async (app, options) => {
  app.post(
    '/token/refresh',
    {
      config: { rateLimit: { max: options.credentialsPerMinute, timeWindow: 60_000 } },
      schema: {
        summary: 'A new access token (and, with rotation, a new refresh token) for a refresh token',
        body: RefreshRequest,
        response: {
          200: RefreshResponse,
          400: ErrorEnvelope,
          401: ErrorEnvelope,
          429: ErrorEnvelope,
          503: ErrorEnvelope,
        },
      },
    },
    async (request, reply) => {
      const now = new Date();
      const outcome = await refreshSession(
        app.db,
        request.body.refresh_token,
        options.reuseGraceSeconds,
        originOf(request),
        now,
      );
      if (!outcome.ok) {
        app.authMetrics.refresh(outcome.reason);
        request.log.info({ reason: outcome.reason }, 'refresh refused');
        if (outcome.reason === 'reuse_detected') {
          // The reuse revoked the session (committed): this replica refuses its access tokens at once, the others
          // when the database notifies them (which also covers a failure of this lookup).
          const sessionId = await sessionOfRefreshToken(app.db, request.body.refresh_token).catch(() => undefined);
          if (sessionId !== undefined) app.sessionCache.forgetSessions([sessionId]);
        }
        throw new HttpError('INVALID_REFRESH_TOKEN');
      }
      const { session, refreshToken } = outcome;
      request.subject = `user:${session.userId}`;
      const access = await issueSessionAccessToken(
        app.signingKeys,
        options.issuer,
        session,
        session.accessTokenTtlSeconds,
        now,
      );
      app.authMetrics.refresh('success');
      reply.headers({ 'cache-control': 'no-store', pragma: 'no-cache' });
      return {
        access_token: access.token,
        expires_at: access.expiresAt.toISOString(),
        ...(refreshToken ? { refresh_token: refreshToken } : {}),
        token_type: 'Bearer' as const,
        expires_in: access.expiresIn,
      };
    },
  );

  app.post(
    '/token/validate',
    {
      // Gateways call this for every request they route: limited per token, never per caller address.
      // Only gateways and WebSocket servers call it, never a browser: no browser-protection headers (CSP, framing,
      // HSTS); the ones that still matter to a machine caller are sent in the handler.
      config: { rateLimit: app.rateLimits.perBearerToken, securityHeaders: false },
      schema: {
        summary: 'Whether the Bearer access token is valid and its session active (used by gateways)',
        response: { 200: ValidateResponse, 401: ValidateErrorResponse, 429: ErrorEnvelope, 503: ErrorEnvelope },
      },
    },
    async (request, reply) => {
      reply.headers(MACHINE_CALLER_HEADERS);
      const caller = await app.identifyCaller(request);
      if ('refused' in caller) {
        throw new HttpError('UNAUTHORIZED', {
          headers: { 'www-authenticate': bearerChallenge(caller) },
          extra: { valid: false },
        });
      }
      return {
        valid: true as const,
        user_id: caller.userId,
        application_id: caller.applicationId,
        session_id: caller.sessionId,
        exp: caller.exp,
      };
    },
  );
};
