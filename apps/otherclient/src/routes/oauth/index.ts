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
import type { FastifyError } from 'fastify';
import { Type } from 'typebox';
import {
  type AccessTokenSettings,
  inspectAccessToken,
  issueAccessToken,
  revokeAccessToken,
} from '../../services/access-tokens.js';
import { authenticateClient } from '../../services/client-authentication.js';
import { recordClientUse } from '../../services/clients.js';
import { grantedScopes } from '../../services/scopes.js';
import { recordTokenRequest } from '../../services/token-audit.js';
import { CLIENT_AUTH_CHALLENGE, clientCredentialsFrom } from './client-credentials.js';
import { OAuthError } from './oauth-error.js';

export interface OAuthRoutesOptions {
  settings: AccessTokenSettings;
  pepper: string;
  credentialsPerMinute: number;
}

/** Allowed scope of clients that may introspect tokens issued to other clients (resource servers). */
export const INTROSPECT_ANY_SCOPE = 'token:introspect';

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };
const FORM = 'application/x-www-form-urlencoded';

/** OAuth 2.0 for standard clients: client credentials grant, introspection and revocation. */
export const oauthRoutes: FastifyPluginAsyncTypebox<OAuthRoutesOptions> = async (
  app,
  { settings, pepper, ...limits },
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
  app.addHook('onRequest', async (request) => {
    const contentType = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
    if (request.method === 'POST' && contentType !== FORM) {
      throw new OAuthError('invalid_request', `Content-Type must be ${FORM}`);
    }
  });

  async function authenticate(
    authorization: string | undefined,
    body: { client_id?: string | undefined; client_secret?: string | undefined },
    ip: string,
    audit: boolean,
  ) {
    const presented = clientCredentialsFrom(authorization, body);
    const authentication = await authenticateClient(app.db, pepper, presented.clientId, presented.clientSecret);
    if (!authentication.ok) {
      if (audit) {
        await recordTokenRequest(app.db, {
          clientId: presented.clientId,
          ip,
          result: 'failed',
          reason: authentication.reason,
          grantType: 'client_credentials',
        });
      }
      throw new OAuthError('invalid_client', 'Client authentication failed', CLIENT_AUTH_CHALLENGE);
    }
    return authentication;
  }

  app.post(
    '/token',
    {
      config: { rateLimit: { max: limits.credentialsPerMinute, timeWindow: 60_000 } },
      schema: {
        summary: 'OAuth 2.0 token endpoint (client_credentials grant)',
        body: OAuthTokenRequest,
        response: { 200: OAuthTokenResponse, 400: OAuthErrorResponse, 401: OAuthErrorResponse },
      },
    },
    async (request, reply) => {
      const { body } = request;
      if (body.grant_type !== 'client_credentials') {
        throw new OAuthError('unsupported_grant_type', 'Only grant_type=client_credentials is supported');
      }
      const { client, usedPreviousSecret } = await authenticate(request.headers.authorization, body, request.ip, true);
      const scopes = grantedScopes(client.allowedScopes, body.scope);
      if (scopes === undefined) {
        await recordTokenRequest(app.db, {
          clientId: client.id,
          ip: request.ip,
          result: 'failed',
          reason: 'invalid_scope',
          grantType: 'client_credentials',
        });
        throw new OAuthError('invalid_scope', 'A requested scope is not allowed for this client');
      }
      const issued = await issueAccessToken(app.signingKeys, client, scopes, settings);
      await Promise.all([
        recordTokenRequest(app.db, {
          clientId: client.id,
          ip: request.ip,
          result: 'issued',
          reason: usedPreviousSecret ? 'previous_secret' : 'current_secret',
          tokenId: issued.jti,
          grantType: 'client_credentials',
        }),
        recordClientUse(app.db, client),
      ]);
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
      schema: {
        summary: 'OAuth 2.0 token introspection (RFC 7662)',
        body: OAuthTokenOperationRequest,
        response: { 200: IntrospectionResponse, 400: OAuthErrorResponse, 401: OAuthErrorResponse },
      },
    },
    async (request, reply) => {
      const { client } = await authenticate(request.headers.authorization, request.body, request.ip, false);
      const inspection = await inspectAccessToken(app.db, app.signingKeys, request.body.token, settings);
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
      schema: {
        summary: 'OAuth 2.0 token revocation (RFC 7009)',
        body: OAuthTokenOperationRequest,
        response: { 200: Type.Null({ description: 'Empty body' }), 400: OAuthErrorResponse, 401: OAuthErrorResponse },
      },
    },
    async (request, reply) => {
      const { client } = await authenticate(request.headers.authorization, request.body, request.ip, false);
      const outcome = await revokeAccessToken(app.db, app.signingKeys, request.body.token, client.id, settings);
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

function toOAuthError(error: FastifyError): OAuthError {
  if (error instanceof OAuthError) return error;
  if (error.validation) {
    const first = error.validation[0];
    const field =
      first?.keyword === 'required'
        ? String(first.params.missingProperty)
        : first?.instancePath.replace(/^\//, '') || 'request';
    const problem =
      first?.keyword === 'required'
        ? 'is required'
        : first?.keyword === 'additionalProperties'
          ? `has unknown parameter ${String(first.params.additionalProperty)}`
          : 'is invalid';
    return new OAuthError('invalid_request', `Parameter ${field} ${problem}`);
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
