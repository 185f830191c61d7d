/**
 * Why a request was refused. Stable: an app's error handler switches on `code`, never on `message`.
 */
export type AccessTokenErrorCode =
  /** 401: no `Authorization: Bearer` credentials (no header, or another scheme). */
  | 'ERR_ACCESS_TOKEN_MISSING'
  /** 400: bearer credentials that break RFC 6750 (not exactly one token, a token in the query string). */
  | 'ERR_ACCESS_TOKEN_REQUEST_INVALID'
  /** 401: the token failed verification (signature, key, algorithm, issuer, audience, type, claims). */
  | 'ERR_ACCESS_TOKEN_INVALID'
  /** 401: the token was valid but has expired. */
  | 'ERR_ACCESS_TOKEN_EXPIRED'
  /** 403: the token is valid but lacks a scope the route requires. */
  | 'ERR_INSUFFICIENT_SCOPE'
  /** 503: the issuer's JWKS could not be fetched, so the token could not be checked (not the client's fault). */
  | 'ERR_JWKS_UNAVAILABLE';

/**
 * Thrown by the access-token guard; Fastify's error handling (the app's own handler, or the default one) shapes the
 * body. `statusCode` and `headers` follow Fastify's conventions, so the default handler answers correctly, and the
 * headers are also already set on the reply for handlers that ignore `error.headers`. `message` is the public
 * description: the reason for an invalid token is only in `cause`, for logs.
 */
export class AccessTokenError extends Error {
  override readonly name = 'AccessTokenError';
  readonly code: AccessTokenErrorCode;
  readonly statusCode: 400 | 401 | 403 | 503;
  /** Response headers for this failure (`WWW-Authenticate` for 400/401/403). */
  readonly headers: Readonly<Record<string, string>>;

  /** Creates an error; use the factories below rather than assembling challenges by hand. */
  constructor(
    code: AccessTokenErrorCode,
    statusCode: 400 | 401 | 403 | 503,
    message: string,
    headers: Readonly<Record<string, string>>,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.statusCode = statusCode;
    this.headers = headers;
  }
}

// Every value that goes into a challenge is either a constant below or an RFC 6749 scope-token (validated when the
// guard is created): neither can contain `"` or `\`, so no quoting or escaping is needed.
function challenge(params: Readonly<Record<string, string>>): Record<string, string> {
  const attributes = Object.entries(params).map(([name, value]) => `${name}="${value}"`);
  return { 'www-authenticate': attributes.length === 0 ? 'Bearer' : `Bearer ${attributes.join(', ')}` };
}

/** No bearer credentials: RFC 6750 §3.1 says to answer without an error code. */
export function missingTokenError(): AccessTokenError {
  return new AccessTokenError('ERR_ACCESS_TOKEN_MISSING', 401, 'An access token is required', challenge({}));
}

/** Bearer credentials that break RFC 6750's syntax (§3.1 `invalid_request`, 400). */
export function invalidRequestError(description: string): AccessTokenError {
  return new AccessTokenError(
    'ERR_ACCESS_TOKEN_REQUEST_INVALID',
    400,
    description,
    challenge({ error: 'invalid_request', error_description: description }),
  );
}

/** A token that failed verification; `cause` keeps the precise reason for logs, never for the client. */
export function invalidTokenError(expired: boolean, cause: unknown): AccessTokenError {
  const description = expired ? 'The access token expired' : 'The access token is invalid';
  return new AccessTokenError(
    expired ? 'ERR_ACCESS_TOKEN_EXPIRED' : 'ERR_ACCESS_TOKEN_INVALID',
    401,
    description,
    challenge({ error: 'invalid_token', error_description: description }),
    cause,
  );
}

/** A valid token without every scope the route requires; `scope` lists all of them (RFC 6750 §3). */
export function insufficientScopeError(requiredScopes: readonly string[]): AccessTokenError {
  const description = 'The access token lacks a required scope';
  return new AccessTokenError(
    'ERR_INSUFFICIENT_SCOPE',
    403,
    description,
    challenge({ error: 'insufficient_scope', error_description: description, scope: requiredScopes.join(' ') }),
  );
}

/** The JWKS could not be fetched: the token may well be valid, so this is a 503 without a challenge. */
export function jwksUnavailableError(cause: unknown): AccessTokenError {
  return new AccessTokenError('ERR_JWKS_UNAVAILABLE', 503, 'The access token cannot be verified right now', {}, cause);
}
