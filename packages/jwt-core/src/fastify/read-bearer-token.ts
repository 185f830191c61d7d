import { invalidRequestError, missingTokenError } from './access-token-error.js';

/** What the bearer parser needs of a request: its raw headers (every occurrence) and its URL. */
export interface BearerRequest {
  readonly rawHeaders: readonly string[];
  readonly url: string;
}

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token, b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" /
// "/" ) *"=". The scheme is case-insensitive (RFC 9110 §11.1).
const CREDENTIALS = /^([^ ]+)(?: +(.*))?$/s;
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Reads the one bearer token of a request from its `Authorization` header (RFC 6750 §2.1), or throws an
 * `AccessTokenError`: `ERR_ACCESS_TOKEN_MISSING` without bearer credentials, `ERR_ACCESS_TOKEN_REQUEST_INVALID` for
 * anything but exactly one well-formed token, including a token in the query string (§2.3), which is refused because
 * URLs end up in access logs, proxies and browser history.
 */
export function readBearerToken(request: BearerRequest): string {
  const queryStart = request.url.indexOf('?');
  if (queryStart !== -1 && new URLSearchParams(request.url.slice(queryStart + 1)).has('access_token')) {
    throw invalidRequestError('Access tokens are not accepted in the query string');
  }
  // rawHeaders, not headers: Node keeps only the first of several Authorization headers, which would silently
  // ignore a second token.
  const values: string[] = [];
  for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
    if (request.rawHeaders[i]?.toLowerCase() === 'authorization') values.push(request.rawHeaders[i + 1] ?? '');
  }
  if (values.length > 1) throw invalidRequestError('Exactly one Authorization header is allowed');
  const [value] = values;
  const match = value === undefined ? null : CREDENTIALS.exec(value.trim());
  // Another scheme (Basic, DPoP, ...) is no bearer credentials at all: answer with the Bearer challenge.
  if (match === null || match[1]?.toLowerCase() !== 'bearer') throw missingTokenError();
  const token = match[2] ?? '';
  if (!B64TOKEN.test(token)) throw invalidRequestError('The Authorization header must be "Bearer" and one token');
  return token;
}
