// RFC 6750 §2.1: `Bearer` (any case), 1*SP, then a b64token.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/** The token of an `Authorization: Bearer <token>` header, or undefined when the header is absent or malformed. */
export function bearerTokenFrom(authorization: string | undefined): string | undefined {
  if (authorization === undefined || authorization.length > 8200) return undefined;
  return BEARER.exec(authorization)?.[1];
}
