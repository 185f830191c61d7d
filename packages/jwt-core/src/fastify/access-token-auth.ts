import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { DEFAULT_ALGORITHM, type SigningAlgorithm } from '../algorithms.js';
import { createRemoteKeySet } from '../create-remote-key-set.js';
import { JwtCoreError } from '../errors.js';
import { checkVerifyOptions } from '../lib/check-verify-options.js';
import type { KeySet } from '../types.js';
import { type JwksResolver, type VerifyJwtOptions, verifyJwt } from '../verify-jwt.js';
import { type AccessToken, isScopeToken, toAccessToken } from './access-token.js';
import {
  AccessTokenError,
  insufficientScopeError,
  invalidTokenError,
  jwksUnavailableError,
} from './access-token-error.js';
import { readBearerToken } from './read-bearer-token.js';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * A hook that lets a request through only with a valid access token carrying `scopes` (and the plugin's
     * `requiredScopes`); use it as a route's `onRequest` (or `preHandler`), or with `addHook` for a group of routes.
     */
    requireAccessToken(options?: RequireAccessTokenOptions): AccessTokenGuard;
  }
  interface FastifyRequest {
    /**
     * The verified access token. Reading it on a route without `requireAccessToken` throws (a 500): a forgotten
     * guard must not look like an anonymous request.
     */
    readonly accessToken: AccessToken;
  }
}

/** Options shared by both ways of getting the issuer's keys. */
interface AccessTokenAuthCommonOptions {
  /** The only accepted `iss`, e.g. the otherclient issuer URL. */
  issuer: string;
  /** This service's identifier(s); the token's `aud` must contain one. */
  audience: string | readonly string[];
  /** Accepted signature algorithms; default `['ES256']` (the issuers' default). Passed explicitly to every verify. */
  algorithms?: readonly SigningAlgorithm[];
  /** Scopes every guarded route requires, in addition to the route's own. */
  requiredScopes?: readonly string[];
  /** Allowed clock skew for `exp`/`nbf`, in seconds; default 0. */
  clockToleranceSeconds?: number;
  /** The expected `typ` header; default `at+jwt` (RFC 9068; `application/at+jwt` matches too). */
  typ?: string;
}

/** Keys from the issuer's JWKS URL, cached (see `createRemoteKeySet`). */
interface JwksUrlOptions {
  /** e.g. `https://<ingress>/.well-known/jwks.json`. */
  jwksUrl: string | URL;
  keySource?: never;
  /** How long a fetched JWKS is used, in ms; default 600 000 (10 min). */
  cacheMaxAge?: number;
  /** Minimum time between two refetches triggered by an unknown `kid`, in ms; default 30 000. */
  cooldownDuration?: number;
  /** Timeout of one JWKS fetch, in ms; default 5 000. */
  timeoutDuration?: number;
}

/** Keys from a key set or resolver the caller built (e.g. a shared `createRemoteKeySet`, or a `KeySet` in tests). */
interface KeySourceOptions {
  keySource: KeySet | JwksResolver;
  jwksUrl?: never;
  cacheMaxAge?: never;
  cooldownDuration?: never;
  timeoutDuration?: never;
}

/** Options of {@link accessTokenAuth}: exactly one of `jwksUrl` and `keySource`. */
export type AccessTokenAuthOptions = AccessTokenAuthCommonOptions & (JwksUrlOptions | KeySourceOptions);

/** Options of `app.requireAccessToken()`. */
export interface RequireAccessTokenOptions {
  /** Scopes the token must all have (RFC 6749 scope tokens), in addition to the plugin's `requiredScopes`. */
  scopes?: readonly string[];
}

/** An `onRequest`/`preHandler` hook that authenticates the request or throws an `AccessTokenError`. */
export type AccessTokenGuard = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

// RFC 9068 §2.2 makes these mandatory (with iss, exp and aud, which verifyJwt always requires).
const RFC9068_REQUIRED_CLAIMS = ['sub', 'client_id', 'iat', 'jti'];

function optionError(message: string): JwtCoreError {
  return new JwtCoreError('ERR_ARGUMENT_INVALID', `accessTokenAuth: ${message}`);
}

function checkScopes(scopes: unknown, option: string): readonly string[] {
  if (scopes === undefined) return [];
  if (!Array.isArray(scopes) || !scopes.every(isScopeToken)) {
    throw optionError(`${option} must be an array of RFC 6749 scope tokens (no spaces, quotes or backslashes)`);
  }
  return scopes;
}

function resolveKeySource(options: AccessTokenAuthOptions): KeySet | JwksResolver {
  const { jwksUrl, keySource } = options;
  if ((jwksUrl === undefined) === (keySource === undefined)) {
    throw optionError('exactly one of jwksUrl and keySource is required');
  }
  if (keySource !== undefined) {
    if (typeof keySource !== 'function' && !(keySource?.verificationKeys instanceof Map)) {
      throw optionError('keySource must be a KeySet or a JWKS resolver function');
    }
    return keySource;
  }
  // Only the caching options, so nothing else in the plugin options reaches jose's fetch.
  const { cacheMaxAge, cooldownDuration, timeoutDuration } = options as JwksUrlOptions;
  return createRemoteKeySet(jwksUrl as string | URL, { cacheMaxAge, cooldownDuration, timeoutDuration });
}

// The only place verification failures become HTTP semantics: a JWKS outage is not the client's fault (503), a
// misconfiguration is a bug (500, rethrown as is), everything else says nothing more than "invalid" or "expired".
function toHttpError(error: unknown): unknown {
  if (error instanceof AccessTokenError || !(error instanceof JwtCoreError)) return error;
  switch (error.code) {
    case 'ERR_JWKS_UNAVAILABLE':
      return jwksUnavailableError(error);
    case 'ERR_ARGUMENT_INVALID':
    case 'ERR_KEY_CONFIG_INVALID':
      return error;
    default:
      return invalidTokenError(error.code === 'ERR_JWT_EXPIRED', error);
  }
}

async function accessTokenAuthPlugin(app: FastifyInstance, options: AccessTokenAuthOptions): Promise<void> {
  if (typeof options !== 'object' || options === null) throw optionError('options are required');
  const keySource = resolveKeySource(options);
  const verifyOptions: VerifyJwtOptions = {
    algorithms: options.algorithms ?? [DEFAULT_ALGORITHM],
    issuer: options.issuer,
    audience: options.audience,
    typ: options.typ ?? 'at+jwt',
    clockToleranceSeconds: options.clockToleranceSeconds,
    requiredClaims: RFC9068_REQUIRED_CLAIMS,
  };
  // Refuse bad options now, at start-up, rather than as a 500 on the first request.
  checkVerifyOptions(verifyOptions);
  const requiredScopes = checkScopes(options.requiredScopes, 'requiredScopes');

  // Per request, so that a group-level guard and a route-level guard verify the token only once.
  const verified = new WeakMap<FastifyRequest, AccessToken>();

  async function authenticate(request: FastifyRequest): Promise<AccessToken> {
    const known = verified.get(request);
    if (known !== undefined) return known;
    const token = readBearerToken({ rawHeaders: request.raw.rawHeaders, url: request.url });
    const { payload } = await verifyJwt(token, keySource, verifyOptions);
    const accessToken = toAccessToken(payload);
    verified.set(request, accessToken);
    return accessToken;
  }

  app.decorateRequest('accessToken', {
    getter(this: FastifyRequest): AccessToken {
      const accessToken = verified.get(this);
      if (accessToken === undefined) {
        throw new Error(`request.accessToken read on a route without requireAccessToken: ${this.routeOptions.url}`);
      }
      return accessToken;
    },
  });

  app.decorate('requireAccessToken', (guardOptions: RequireAccessTokenOptions = {}): AccessTokenGuard => {
    const scopes = [...new Set([...requiredScopes, ...checkScopes(guardOptions.scopes, 'scopes')])];
    return async function requireAccessToken(request, reply) {
      try {
        const accessToken = await authenticate(request);
        if (!scopes.every((scope) => accessToken.scopes.includes(scope))) throw insufficientScopeError(scopes);
      } catch (error) {
        const httpError = toHttpError(error);
        // Set here as well as on the error: an app's error handler may shape the body without copying headers.
        if (httpError instanceof AccessTokenError) reply.headers(httpError.headers);
        throw httpError;
      }
    };
  });
}

/**
 * Fastify plugin that verifies RFC 9068 access tokens (`Authorization: Bearer`) against the issuer's keys. It adds
 * `app.requireAccessToken({ scopes })`, a hook to protect routes with, and `request.accessToken` for the handlers
 * behind it. Failures are thrown as `AccessTokenError` (400/401/403/503 with `WWW-Authenticate`) for the app's error
 * handler to shape.
 */
export const accessTokenAuth: FastifyPluginAsync<AccessTokenAuthOptions> = fp(accessTokenAuthPlugin, {
  name: 'mxp-access-token-auth',
  fastify: '5.x',
});
