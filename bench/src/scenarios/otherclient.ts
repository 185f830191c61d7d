import { basicAuthorization, FORM_HEADERS, form, JSON_HEADERS, type Json, primeEach, probe } from '../http.js';
import type { LoadSpec } from '../load.js';
import {
  CLIENT_CREDENTIALS_BODY,
  type Context,
  FAST_CONNECTIONS,
  has,
  INTROSPECTED_TOKENS,
  isEs256AccessToken,
  measureOne,
  productionCommand,
  rotation,
  tokenRequestBody,
  withServer,
} from './common.js';

/** `count` access tokens of the client, from `POST /oauth/token`. */
async function issueTokens(tokenUrl: string, headers: Record<string, string>, count: number): Promise<string[]> {
  const tokens: string[] = [];
  let started = 0;
  const worker = async () => {
    while (started++ < count) {
      const issued = await probe('oauth token', tokenUrl, { headers, body: CLIENT_CREDENTIALS_BODY }, (body) =>
        isEs256AccessToken(body.access_token),
      );
      tokens.push(String(issued.access_token));
    }
  };
  await Promise.all(Array.from({ length: FAST_CONNECTIONS }, worker));
  return tokens;
}

export async function otherclientScenarios(ctx: Context): Promise<void> {
  const client = ctx.fixtures.apiClient;
  if (!has(ctx, 'api-token', 'oauth-token', 'oauth-introspect') || !client) return;
  const spec = {
    name: 'otherclient',
    ...productionCommand('otherclient', ctx.fixtures.otherclientEnv),
    readyPath: '/api/auth/health',
  };
  await withServer(ctx, spec, true, async (server) => {
    if (has(ctx, 'api-token')) {
      const load: LoadSpec = {
        url: `${server.baseUrl}/api/auth/token`,
        method: 'POST',
        headers: JSON_HEADERS,
        body: tokenRequestBody(client.clientId, client.clientSecret),
        connections: FAST_CONNECTIONS,
      };
      await probe('api token', load.url, { headers: JSON_HEADERS, body: load.body }, (body) =>
        isEs256AccessToken((body.data as Json | undefined)?.token),
      );
      await measureOne(ctx, 'api-token', server, load);
    }
    const headers = { ...FORM_HEADERS, authorization: basicAuthorization(client.clientId, client.clientSecret) };
    const tokenUrl = `${server.baseUrl}/oauth/token`;
    await probe('oauth token', tokenUrl, { headers, body: CLIENT_CREDENTIALS_BODY }, (body) =>
      isEs256AccessToken(body.access_token),
    );
    if (has(ctx, 'oauth-token')) {
      await measureOne(ctx, 'oauth-token', server, {
        url: tokenUrl,
        method: 'POST',
        headers,
        body: CLIENT_CREDENTIALS_BODY,
        connections: FAST_CONNECTIONS,
      });
    }
    if (has(ctx, 'oauth-introspect')) {
      // The client introspects its own JWTs (the peer: its own opaque token), rotating over many live ones, each
      // introspected once before measuring: a resource server sees the same live tokens over and over, not one.
      const introspectUrl = `${server.baseUrl}/oauth/introspect`;
      const tokens = await issueTokens(tokenUrl, headers, INTROSPECTED_TOKENS);
      await primeEach(tokens, FAST_CONNECTIONS, (token) => ({
        url: introspectUrl,
        init: { headers, body: form({ token }) },
      }));
      await probe('oauth introspect', introspectUrl, { headers, body: form({ token: tokens[0] ?? '' }) }, (body) =>
        Boolean(body.active),
      );
      const nextToken = rotation(tokens);
      await measureOne(ctx, 'oauth-introspect', server, {
        url: introspectUrl,
        method: 'POST',
        headers,
        next: () => ({ body: form({ token: nextToken() }) }),
        connections: FAST_CONNECTIONS,
      });
    }
  });
}
