import formBody from '@fastify/formbody';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  IntrospectionResponse,
  OAuthErrorResponse,
  OAuthTokenOperationRequest,
  OAuthTokenRequest,
  OAuthTokenResponse,
} from '@mxp/contracts';
import { isDatabaseUnavailableError } from '@mxp/db';
import type { FastifyError, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import {
  type AccessTokenSettings,
  inspectAccessToken,
  issueAccessToken,
  revokeAccessToken,
  type TokenInspectionContext,
} from '../../services/access-tokens.js';
import { authenticateClientWithBackoff, type BackoffPolicy } from '../../services/backoff.js';
import { grantedScopes } from '../../services/scopes.js';
import { CLIENT_AUTH_CHALLENGE, clientCredentialsFrom, type PresentedClientCredentials } from './client-credentials.js';
import { OAuthError } from './oauth-error.js';

export interface OAuthRoutesOptions {
  settings: AccessTokenSettings;
  /** What introspection and token info read (the app's database, keys and caches). */
  tokenInspection: TokenInspectionContext;
  pepper: string;
  credentialsPerMinute: number;
  /** Brute-force backoff per client id (`BACKOFF_*`), shared with `POST /api/auth/token`. */
  backoff: BackoffPolicy;
}

/** Allowed scope of clients that may introspect tokens issued to other clients (resource servers). */
export const INTROSPECT_ANY_SCOPE = 'token:introspect';

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };
const FORM = 'application/x-www-form-urlencoded';

/** OAuth 2.0 for standard clients: client credentials grant, introspection and revocation. */
export const oauthRoutes: FastifyPluginAsyncTypebox<OAuthRoutesOptions> = async (
  app,
  { settings, tokenInspection, pepper, backoff, ...limits },
) => {
  await app.register(formBody);

  // Errors of these endpoints take the RFC 6749 §5.2 shape, never the API envelope.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const oauthError = toOAuthError(error);
    if (oauthError.statusCode >= 500) request.log.error({ err: error }, 'oauth request failed');
    else request.log.info({ error: oauthError.error, reason: error.code ?? error.message }, 'oauth request refused');
    return reply
      .code(oauthError.statusCode)
      .headers({ ...NO_STORE, ...oauthError.headers })
      .send(
        oauthError.description
          ? { error: oauthError.error, error_description: oauthError.description }
          : { error: oauthError.error },
      );
  });
  // A callback hook: every token request runs it, and an async one costs a promise more.
  app.addHook('onRequest', (request, _reply, done) => {
    const contentType = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
    done(
      request.method === 'POST' && contentType !== FORM
        ? new OAuthError('invalid_request', `Content-Type must be ${FORM}`)
        : undefined,
    );
  });

  async function authenticate(
    request: FastifyRequest,
    body: { client_id?: string | undefined; client_secret?: string | undefined },
    endpoint: 'client_credentials' | 'introspection' | 'revocation',
  ) {
    const now = new Date();
    const refuse = (clientId: string | undefined, reason: string) => {
      app.tokenAudit.record({ clientId, ip: request.ip, result: 'failed', reason, grantType: endpoint }, now);
      return new OAuthError('invalid_client', 'Client authentication failed', CLIENT_AUTH_CHALLENGE);
    };
    let presented: PresentedClientCredentials;
    try {
      presented = clientCredentialsFrom(request.headers.authorization, body);
    } catch (error) {
      if (error instanceof OAuthError && error.error === 'invalid_client') {
        throw refuse(body.client_id, 'malformed_credentials');
      }
      throw error;
    }
    const authentication = await authenticateClientWithBackoff(
      app.db,
      pepper,
      backoff,
      presented.clientId,
      presented.clientSecret,
      now,
      app.clientCache,
    );
    if (!authentication.ok) {
      const refusal = refuse(presented.clientId, authentication.reason);
      if (authentication.lockStarted) {
        const { seconds, count, until } = authentication.lockStarted;
        request.log.warn({ lockSeconds: seconds, lockCount: count, lockedUntil: until }, 'client locked');
        app.tokenAudit.record(
          {
            clientId: presented.clientId,
            ip: request.ip,
            result: 'failed',
            reason: 'client_locked',
            grantType: endpoint,
          },
          now,
        );
      }
      // Locked or not, the same invalid_client: a lock must not tell a guesser anything (not even that it exists).
      throw refusal;
    }
    // The request's log line names the client that authenticated (requestLogging).
    request.subject = `client:${authentication.client.id}`;
    return { ...authentication, now };
  }

  // Every endpoint that checks a client secret shares one counter per address, so guesses cannot be spread.
  const credentialsLimit = {
    rateLimit: { max: limits.credentialsPerMinute, timeWindow: 60_000, groupId: 'oauth-client-credentials' },
  };

  app.post(
    '/token',
    {
      config: credentialsLimit,
      schema: {
        summary: 'OAuth 2.0 token endpoint (client_credentials grant)',
        consumes: [FORM],
        body: OAuthTokenRequest,
        response: { 200: OAuthTokenResponse, 400: OAuthErrorResponse, 401: OAuthErrorResponse },
      },
    },
    async (request, reply) => {
      const { body } = request;
      if (body.grant_type !== 'client_credentials') {
        throw new OAuthError('unsupported_grant_type', 'Only grant_type=client_credentials is supported');
      }
      const { client, usedPreviousSecret, now } = await authenticate(request, body, 'client_credentials');
      const scopes = grantedScopes(client.allowedScopes, body.scope);
      const audit = { clientId: client.id, ip: request.ip, grantType: 'client_credentials' } as const;
      if (scopes === undefined) {
        app.tokenAudit.record({ ...audit, result: 'failed', reason: 'invalid_scope' }, now);
        throw new OAuthError('invalid_scope', 'A requested scope is not allowed for this client');
      }
      const issued = await issueAccessToken(app.signingKeys, client, scopes, settings, now);
      // Also the client's "last used" (written with the audit batch, at most once a minute).
      app.tokenAudit.record(
        {
          ...audit,
          result: 'issued',
          reason: usedPreviousSecret ? 'previous_secret' : 'current_secret',
          tokenId: issued.jti,
        },
        now,
      );
      reply.headers(NO_STORE);
      return {
        access_token: issued.token,
        token_type: 'Bearer' as const,
        expires_in: issued.expiresIn,
        ...(issued.scope ? { scope: issued.scope } : {}),
      };
    },
  );

  app.post(
    '/introspect',
    {
      config: credentialsLimit,
      schema: {
        summary: 'OAuth 2.0 token introspection (RFC 7662)',
        consumes: [FORM],
        body: OAuthTokenOperationRequest,
        response: { 200: IntrospectionResponse, 400: OAuthErrorResponse, 401: OAuthErrorResponse },
      },
    },
    async (request, reply) => {
      const { client } = await authenticate(request, request.body, 'introspection');
      const inspection = await inspectAccessToken(tokenInspection, request.body.token);
      reply.headers(NO_STORE);
      // A client learns about its own tokens; only resource servers (INTROSPECT_ANY_SCOPE) about everyone's.
      const mayKnow =
        inspection.active &&
        (inspection.client.id === client.id || client.allowedScopes.includes(INTROSPECT_ANY_SCOPE));
      if (!inspection.active || !mayKnow) return { active: false };
      const { claims, scopes } = inspection;
      return {
        active: true,
        ...(scopes.length ? { scope: scopes.join(' ') } : {}),
        client_id: inspection.client.id,
        token_type: 'Bearer' as const,
        exp: claims.exp,
        iat: claims.iat,
        sub: claims.sub ?? inspection.client.id,
        aud: claims.aud,
        iss: claims.iss,
        jti: claims.jti,
      };
    },
  );

  app.post(
    '/revoke',
    {
      config: credentialsLimit,
      schema: {
        summary: 'OAuth 2.0 token revocation (RFC 7009)',
        consumes: [FORM],
        body: OAuthTokenOperationRequest,
        response: { 200: Type.Null({ description: 'Empty body' }), 400: OAuthErrorResponse, 401: OAuthErrorResponse },
      },
    },
    async (request, reply) => {
      const { client } = await authenticate(request, request.body, 'revocation');
      const outcome = await revokeAccessToken(tokenInspection, request.body.token, client.id);
      if (outcome === 'not_owner') {
        throw new OAuthError('unauthorized_client', 'The token was not issued to this client');
      }
      // RFC 7009 §2.2: an invalid or already expired token is answered 200 too.
      request.log.info({ outcome }, 'revocation');
      // An empty body: the RFC defines none, and clients ignore it.
      return reply
        .headers(NO_STORE)
        .code(200)
        .send(undefined as unknown as null);
    },
  );
};

// RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E; a parameter name echoed from the request is cut
// down to that, and short.
function asciiDescription(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '?').slice(0, 40);
}

function toOAuthError(error: FastifyError): OAuthError {
  if (error instanceof OAuthError) return error;
  if (error.validation) {
    const first = error.validation[0];
    const keyword = first?.keyword;
    const name =
      keyword === 'required'
        ? String(first?.params.missingProperty)
        : keyword === 'additionalProperties'
          ? String(first?.params.additionalProperty)
          : first?.instancePath.replace(/^\//, '') || 'request';
    const problem =
      keyword === 'required' ? 'is missing' : keyword === 'additionalProperties' ? 'is not allowed' : 'is invalid';
    return new OAuthError('invalid_request', `Parameter ${asciiDescription(name)} ${problem}`);
  }
  if (error.statusCode === 429) {
    return new OAuthError('temporarily_unavailable', 'Too many requests, retry later', {}, 429);
  }
  if (isDatabaseUnavailableError(error)) {
    return new OAuthError('temporarily_unavailable', 'Service unavailable, retry later', { 'retry-after': '5' });
  }
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return new OAuthError('invalid_request', 'Malformed request', {}, error.statusCode === 413 ? 413 : 400);
  }
  return new OAuthError('server_error');
}
