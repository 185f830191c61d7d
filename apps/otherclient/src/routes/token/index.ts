import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ErrorEnvelope, TokenInfoResponse, TokenRequest, TokenResponse } from '@mxp/contracts';
import { bearerTokenFrom, HttpError } from '@mxp/service-kit';
import {
  type AccessTokenSettings,
  formatUtcToSecond,
  inspectAccessToken,
  issueAccessToken,
  type TokenInspectionContext,
} from '../../services/access-tokens.js';
import { authenticateClientWithBackoff, type BackoffPolicy } from '../../services/backoff.js';

export interface TokenRoutesOptions {
  settings: AccessTokenSettings;
  /** What introspection and token info read (the app's database, keys and caches). */
  tokenInspection: TokenInspectionContext;
  pepper: string;
  credentialsPerMinute: number;
  /** Brute-force backoff per client id (`BACKOFF_*`). */
  backoff: BackoffPolicy;
}

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

/** The OtherClient specification's API: `POST /token` and, for integrators checking a token, `GET /token/info`. */
export const tokenRoutes: FastifyPluginAsyncTypebox<TokenRoutesOptions> = async (
  app,
  { settings, tokenInspection, pepper, backoff, ...limits },
) => {
  app.post(
    '/token',
    {
      config: { rateLimit: { max: limits.credentialsPerMinute, timeWindow: 60_000 } },
      schema: {
        summary: 'Trade a clientId and clientSecret for a JWT access token',
        body: TokenRequest,
        response: {
          200: TokenResponse,
          400: ErrorEnvelope,
          401: ErrorEnvelope,
          429: ErrorEnvelope,
          503: ErrorEnvelope,
        },
      },
    },
    async (request, reply) => {
      const { clientId, clientSecret } = request.body;
      const now = new Date();
      const authentication = await authenticateClientWithBackoff(
        app.db,
        pepper,
        backoff,
        clientId,
        clientSecret,
        now,
        app.clientCache,
      );
      if (!authentication.ok) {
        const failure = { clientId, ip: request.ip, result: 'failed', grantType: 'api_token' } as const;
        app.tokenAudit.record({ ...failure, reason: authentication.reason }, now);
        if (authentication.lockStarted) {
          const { seconds, count, until } = authentication.lockStarted;
          request.log.warn({ lockSeconds: seconds, lockCount: count, lockedUntil: until }, 'client locked');
          app.tokenAudit.record({ ...failure, reason: 'client_locked' }, now);
        }
        // Locked or not, the same answer: a lock must not tell a guesser anything (not even that it exists).
        throw new HttpError('INVALID_CREDENTIALS');
      }
      const { client } = authentication;
      // The request's log line names the integrator it served (requestLogging).
      request.subject = `client:${client.id}`;
      const issued = await issueAccessToken(app.signingKeys, client, client.allowedScopes, settings, now);
      // Also the client's "last used" (written with the audit batch, at most once a minute).
      app.tokenAudit.record(
        {
          clientId: client.id,
          ip: request.ip,
          result: 'issued',
          reason: authentication.usedPreviousSecret ? 'previous_secret' : 'current_secret',
          tokenId: issued.jti,
          grantType: 'api_token',
        },
        now,
      );
      reply.headers(NO_STORE);
      return {
        code: 200,
        status: 'success' as const,
        message: 'Token generado exitosamente',
        data: {
          token: issued.token,
          expire_in: formatUtcToSecond(issued.expiresAt),
          token_type: 'Bearer' as const,
          expires_in: issued.expiresIn,
          ...(issued.scope ? { scope: issued.scope } : {}),
        },
      };
    },
  );

  app.get(
    '/token/info',
    {
      schema: {
        summary: 'What the Bearer token grants and for how long',
        response: { 200: TokenInfoResponse, 401: ErrorEnvelope, 503: ErrorEnvelope },
      },
    },
    async (request, reply) => {
      const token = bearerTokenFrom(request.headers.authorization);
      if (token === undefined) {
        throw new HttpError('UNAUTHORIZED', { headers: { 'www-authenticate': 'Bearer' } });
      }
      const inspection = await inspectAccessToken(tokenInspection, token);
      if (!inspection.active) {
        request.log.info({ reason: inspection.reason }, 'token refused');
        throw new HttpError('UNAUTHORIZED', { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
      }
      const { claims, client, scopes } = inspection;
      const expiresAt = new Date(claims.exp * 1000);
      reply.headers(NO_STORE);
      return {
        code: 200,
        status: 'success' as const,
        message: 'Token válido',
        data: {
          client_id: client.id,
          client_name: client.name,
          scopes,
          audience: claims.aud,
          issuer: claims.iss,
          jti: claims.jti,
          issued_at: new Date(claims.iat * 1000).toISOString(),
          expire_in: formatUtcToSecond(expiresAt),
          expires_in: Math.max(0, Math.floor((expiresAt.getTime() - Date.now()) / 1000)),
        },
      };
    },
  );
};
