import { createServer } from 'node:net';
import { issuerOf } from '@mxp/service-kit';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newClient, startApp, type TestApp, type TestClient } from './support.js';

// A stock OAuth client library, given nothing but the issuer URL and the credentials, against the app listening on a
// real port (so the issuer, http://127.0.0.1:<port>, is where the app really is).

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const insecure = { [oauth.allowInsecureRequests]: true } as const;

let testApp: TestApp;
let issuer: URL;
let as: oauth.AuthorizationServer;
let credentials: TestClient;

beforeAll(async () => {
  const port = await freePort();
  testApp = await startApp({ HOST: '127.0.0.1', PORT: String(port) });
  await testApp.app.listen({ host: '127.0.0.1', port });
  issuer = new URL(issuerOf(testApp.config));
  expect(issuer.href).toBe(`http://127.0.0.1:${port}/`);
  credentials = await newClient(testApp, { name: 'Stock library', scopes: ['orders:read', 'orders:write'] });
  as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }),
  );
});
afterAll(async () => {
  await testApp?.close();
});

describe('oauth4webapi discovery', () => {
  it('finds every endpoint from the issuer URL alone', () => {
    expect(as.issuer).toBe(issuerOf(testApp.config));
    expect(as.token_endpoint).toBe(new URL('/oauth/token', issuer).href);
    expect(as.introspection_endpoint).toBe(new URL('/oauth/introspect', issuer).href);
    expect(as.revocation_endpoint).toBe(new URL('/oauth/revoke', issuer).href);
    expect(as.jwks_uri).toBe(new URL('/.well-known/jwks.json', issuer).href);
  });
});

describe.each([
  ['client_secret_basic', oauth.ClientSecretBasic],
  ['client_secret_post', oauth.ClientSecretPost],
] as const)('oauth4webapi with %s', (method, authMethod) => {
  const client = (): oauth.Client => ({ client_id: credentials.clientId, token_endpoint_auth_method: method });
  const auth = () => authMethod(credentials.clientSecret);

  it('obtains, validates, introspects and revokes a token', async () => {
    const grant = await oauth.clientCredentialsGrantRequest(as, client(), auth(), { scope: 'orders:read' }, insecure);
    const result = await oauth.processClientCredentialsResponse(as, client(), grant);
    expect(result).toMatchObject({ token_type: 'bearer', expires_in: 3600, scope: 'orders:read' });
    expect(result.access_token).toEqual(expect.any(String));

    // As a resource server would: RFC 9068 validation against the discovered jwks_uri.
    const claims = await oauth.validateJwtAccessToken(
      as,
      new Request('http://127.0.0.1/orders', { headers: { authorization: `Bearer ${result.access_token}` } }),
      'maxpoint-api',
      insecure,
    );
    expect(claims).toMatchObject({ client_id: credentials.clientId, sub: credentials.clientId, scope: 'orders:read' });

    const active = await oauth.processIntrospectionResponse(
      as,
      client(),
      await oauth.introspectionRequest(as, client(), auth(), result.access_token, insecure),
    );
    expect(active).toMatchObject({ active: true, client_id: credentials.clientId, scope: 'orders:read' });

    await expect(
      oauth.processRevocationResponse(
        await oauth.revocationRequest(as, client(), auth(), result.access_token, insecure),
      ),
    ).resolves.toBeUndefined();

    const inactive = await oauth.processIntrospectionResponse(
      as,
      client(),
      await oauth.introspectionRequest(as, client(), auth(), result.access_token, insecure),
    );
    expect(inactive).toEqual({ active: false });
  });

  it('reports a wrong secret as a 401 Basic challenge', async () => {
    const grant = await oauth.clientCredentialsGrantRequest(as, client(), authMethod('wrong-secret'), {}, insecure);
    const error = await oauth.processClientCredentialsResponse(as, client(), grant).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
    expect(error).toMatchObject({ status: 401, cause: [expect.objectContaining({ scheme: 'basic' })] });
  });

  it('reports a scope the client may not have as invalid_scope', async () => {
    const grant = await oauth.clientCredentialsGrantRequest(as, client(), auth(), { scope: 'admin' }, insecure);
    const error = await oauth.processClientCredentialsResponse(as, client(), grant).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(oauth.ResponseBodyError);
    expect(error).toMatchObject({ status: 400, error: 'invalid_scope' });
  });
});
