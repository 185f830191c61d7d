import { OAuthError } from './oauth-error.js';

/** The realm announced when client authentication fails (RFC 6749 §5.2, `invalid_client`). */
export const CLIENT_AUTH_CHALLENGE = { 'www-authenticate': 'Basic realm="mxp-auth", charset="UTF-8"' };

export interface PresentedClientCredentials {
  clientId: string;
  clientSecret: string;
  method: 'client_secret_basic' | 'client_secret_post';
}

/**
 * The client credentials of an OAuth request, from HTTP Basic (`client_secret_basic`, form-urlencoded id and
 * secret per RFC 6749 §2.3.1) or from the body (`client_secret_post`); using both at once is refused (§2.3).
 */
export function clientCredentialsFrom(
  authorization: string | undefined,
  body: { client_id?: string | undefined; client_secret?: string | undefined },
): PresentedClientCredentials {
  const basic = authorization?.match(/^Basic ([A-Za-z0-9+/]+=*)$/i)?.[1];
  if (authorization !== undefined && basic === undefined) {
    throw new OAuthError('invalid_client', 'Unsupported or malformed Authorization header', CLIENT_AUTH_CHALLENGE);
  }
  if (basic !== undefined && body.client_secret !== undefined) {
    throw new OAuthError('invalid_request', 'Use one client authentication method only');
  }
  if (basic !== undefined) {
    const decoded = Buffer.from(basic, 'base64').toString('utf8');
    const separator = decoded.indexOf(':');
    if (separator < 1) throw new OAuthError('invalid_client', 'Malformed Basic credentials', CLIENT_AUTH_CHALLENGE);
    let credentials: PresentedClientCredentials;
    try {
      credentials = {
        clientId: formDecode(decoded.slice(0, separator)),
        clientSecret: formDecode(decoded.slice(separator + 1)),
        method: 'client_secret_basic',
      };
    } catch {
      throw new OAuthError('invalid_client', 'Malformed Basic credentials', CLIENT_AUTH_CHALLENGE);
    }
    // Some clients also send their id as `client_id` (identification, not a second authentication): allowed when equal.
    if (body.client_id !== undefined && body.client_id !== credentials.clientId) {
      throw new OAuthError('invalid_request', 'client_id does not match the Basic credentials');
    }
    return credentials;
  }
  if (body.client_id && body.client_secret) {
    return { clientId: body.client_id, clientSecret: body.client_secret, method: 'client_secret_post' };
  }
  throw new OAuthError('invalid_client', 'Client authentication required', CLIENT_AUTH_CHALLENGE);
}

function formDecode(value: string): string {
  return decodeURIComponent(value.replaceAll('+', ' '));
}
