import { basicAuthorization, FORM_HEADERS, form, JSON_HEADERS, type Json, probe } from '../http.js';
import type { LoadSpec } from '../load.js';
import {
  CLIENT_CREDENTIALS_BODY,
  type Context,
  FAST_CONNECTIONS,
  has,
  isEs256AccessToken,
  measureOne,
  productionCommand,
  tokenRequestBody,
  withServer,
} from './common.js';

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
    const issued = await probe('oauth token', tokenUrl, { headers, body: CLIENT_CREDENTIALS_BODY }, (body) =>
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
      // The client introspects its own JWT (the peer: its own opaque token).
      const introspect = {
        url: `${server.baseUrl}/oauth/introspect`,
        body: form({ token: String(issued.access_token) }),
      };
      await probe(
        'oauth introspect',
        introspect.url,
        { headers, body: introspect.body },
        (body) => body.active === true,
      );
      await measureOne(ctx, 'oauth-introspect', server, {
        ...introspect,
        method: 'POST',
        headers,
        connections: FAST_CONNECTIONS,
      });
    }
  });
}
