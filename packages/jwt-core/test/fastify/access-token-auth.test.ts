import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AccessTokenAuthOptions, accessTokenAuth } from '../../src/fastify/index.js';
import {
  exportJwks,
  generateSigningKey,
  importKeySet,
  type KeySet,
  type PrivateJwk,
  type SignJwtOptions,
  signJwt,
} from '../../src/index.js';
import { forgeToken, newKeySet } from '../helpers.js';

// A downstream service protected with otherclient's RFC 9068 tokens, over real HTTP on both sides: the issuer's
// JWKS endpoint and the service itself.

const ISSUER = 'https://otherclient.maxpoint.test';
const AUDIENCE = 'https://orders.maxpoint.test';

const INVALID = 'Bearer error="invalid_token", error_description="The access token is invalid"';
const EXPIRED = 'Bearer error="invalid_token", error_description="The access token expired"';
const invalidRequest = (description: string) => `Bearer error="invalid_request", error_description="${description}"`;
const insufficientScope = (scope: string) =>
  `Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="${scope}"`;

let currentJwk: PrivateJwk;
let nextJwk: PrivateJwk;
let issuerKeys: KeySet;
let nextKeys: KeySet;
let strangerKeys: KeySet;

beforeAll(async () => {
  [currentJwk, nextJwk] = await Promise.all([generateSigningKey('ES256'), generateSigningKey('ES256')]);
  [issuerKeys, nextKeys, strangerKeys] = await Promise.all([
    importKeySet({ jwks: { keys: [currentJwk] } }),
    importKeySet({ jwks: { keys: [nextJwk] } }),
    newKeySet('ES256'),
  ]);
});

const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface JwksServer {
  url: string;
  /** How many times the JWKS was fetched. */
  requests(): number;
  /** Serves the public keys of another key set from now on (the issuer rotating its keys). */
  publish(keySet: KeySet): void;
  close(): Promise<void>;
}

/** The issuer side: `GET /.well-known/jwks.json` serving the public JWKS of a key set. */
async function startJwksServer(keySet: KeySet): Promise<JwksServer> {
  let published = keySet;
  let requests = 0;
  const server: Server = createServer((request, response) => {
    if (request.url !== '/.well-known/jwks.json') {
      response.statusCode = 404;
      response.end();
      return;
    }
    requests++;
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify(exportJwks(published)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  cleanups.push(close);
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    requests: () => requests,
    publish: (next) => {
      published = next;
    },
    close,
  };
}

/** The downstream service: the plugin plus a few routes, listening on a real port. */
async function startService(
  options: AccessTokenAuthOptions,
  configure: (app: FastifyInstance) => void | Promise<void> = () => undefined,
): Promise<string> {
  const app = Fastify();
  cleanups.push(() => app.close());
  await app.register(accessTokenAuth, options);
  app.get('/health', async () => ({ ok: true }));
  app.get('/orders', { onRequest: app.requireAccessToken({ scopes: ['orders:read'] }) }, async (request) => ({
    accessToken: request.accessToken,
  }));
  // Typed route generics must accept the guard as is.
  app.delete<{ Params: { id: string } }>(
    '/orders/:id',
    { preHandler: app.requireAccessToken({ scopes: ['orders:write'] }) },
    async (request) => ({ deleted: request.params.id, by: request.accessToken.clientId }),
  );
  app.get('/unguarded', async (request) => ({ clientId: request.accessToken.clientId }));
  await configure(app);
  return app.listen({ host: '127.0.0.1', port: 0 });
}

/** A service verifying against a fresh JWKS server of the issuer's current keys. */
async function startDefaultService(extra: Partial<AccessTokenAuthOptions> = {}) {
  const jwks = await startJwksServer(issuerKeys);
  const baseUrl = await startService({ jwksUrl: jwks.url, issuer: ISSUER, audience: AUDIENCE, ...extra } as never);
  return { jwks, baseUrl };
}

const RFC9068_CLAIMS = { client_id: 'client-42', scope: 'orders:read orders:write' };

/** Signs an access token the way otherclient does; any part can be overridden to break it. */
async function issue(
  claims: Record<string, unknown> = RFC9068_CLAIMS,
  options: Partial<SignJwtOptions> = {},
  keySet: KeySet = issuerKeys,
) {
  return signJwt(keySet, claims, {
    typ: 'at+jwt',
    issuer: ISSUER,
    audience: AUDIENCE,
    subject: 'client-42',
    expiresInSeconds: 300,
    ...options,
  });
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  challenge: string | null;
}

async function call(url: string, authorization?: string, method = 'GET'): Promise<Answer> {
  const response = await fetch(url, {
    method,
    headers: authorization === undefined ? {} : { authorization },
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    challenge: response.headers.get('www-authenticate'),
  };
}

/** A GET written on a plain socket, for requests HTTP clients will not send (repeated Authorization headers). */
async function rawGet(baseUrl: string, path: string, headerLines: readonly string[]): Promise<Answer> {
  const { hostname, port } = new URL(baseUrl);
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.end(
        [`GET ${path} HTTP/1.1`, `Host: ${hostname}`, ...headerLines, 'Connection: close', '', ''].join('\r\n'),
      );
    });
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    socket.on('end', () => resolve(received));
    socket.on('error', reject);
  });
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const [statusLine = '', ...fields] = head.split('\r\n');
  const challenge = fields.find((field) => field.toLowerCase().startsWith('www-authenticate:'));
  return {
    status: Number(statusLine.split(' ')[1]),
    body: body === '' ? {} : (JSON.parse(body) as Record<string, unknown>),
    challenge: challenge === undefined ? null : challenge.slice(challenge.indexOf(':') + 1).trim(),
  };
}

/** Status, code and `WWW-Authenticate` of a refused request, in one comparable object. */
function refusal(answer: Answer) {
  return { status: answer.status, code: answer.body.code, challenge: answer.challenge };
}

describe('accessTokenAuth', () => {
  it('lets a valid token with the scope through and exposes it as request.accessToken', async () => {
    const { jwks, baseUrl } = await startDefaultService();
    const { token, claims } = await issue();
    const answer = await call(`${baseUrl}/orders`, `Bearer ${token}`);
    expect(answer.status).toBe(200);
    expect(answer.challenge).toBeNull();
    expect(answer.body.accessToken).toEqual({
      clientId: 'client-42',
      subject: 'client-42',
      scopes: ['orders:read', 'orders:write'],
      audience: [AUDIENCE],
      issuer: ISSUER,
      issuedAt: new Date(claims.iat * 1000).toISOString(),
      expiresAt: new Date(claims.exp * 1000).toISOString(),
      jti: claims.jti,
      claims: { ...claims },
    });
    // The JWKS is cached: more requests do not fetch it again.
    await call(`${baseUrl}/orders`, `Bearer ${token}`);
    expect(jwks.requests()).toBe(1);
  });

  it('accepts the Bearer scheme case-insensitively, with any number of spaces before the token', async () => {
    const { baseUrl } = await startDefaultService();
    const { token } = await issue();
    for (const authorization of [`bearer ${token}`, `BEARER ${token}`, `Bearer   ${token}`]) {
      const answer = await call(`${baseUrl}/orders`, authorization);
      expect({ authorization, status: answer.status, challenge: answer.challenge }).toEqual({
        authorization,
        status: 200,
        challenge: null,
      });
    }
  });

  it('leaves unguarded routes alone', async () => {
    const { baseUrl } = await startDefaultService();
    const answer = await call(`${baseUrl}/health`);
    expect({ status: answer.status, body: answer.body, challenge: answer.challenge }).toEqual({
      status: 200,
      body: { ok: true },
      challenge: null,
    });
  });

  describe('answers 401 ERR_ACCESS_TOKEN_MISSING with a bare Bearer challenge (RFC 6750 §3.1)', () => {
    it('without an Authorization header', async () => {
      const { baseUrl } = await startDefaultService();
      const answer = await call(`${baseUrl}/orders`);
      expect(refusal(answer)).toEqual({ status: 401, code: 'ERR_ACCESS_TOKEN_MISSING', challenge: 'Bearer' });
      expect(answer.body).toMatchObject({ statusCode: 401, message: 'An access token is required' });
    });

    it.each([
      ['Basic', 'Basic Y2xpZW50LTQyOnNlY3JldA=='],
      ['a token without scheme', 'TOKEN-ONLY'],
      ['another scheme carrying a valid token', 'DPoP VALID'],
    ])('with %s', async (_, authorization) => {
      const { baseUrl } = await startDefaultService();
      const { token } = await issue();
      const answer = await call(`${baseUrl}/orders`, authorization.replace('VALID', token));
      expect(refusal(answer)).toEqual({ status: 401, code: 'ERR_ACCESS_TOKEN_MISSING', challenge: 'Bearer' });
    });
  });

  describe('answers 400 ERR_ACCESS_TOKEN_REQUEST_INVALID (RFC 6750 invalid_request)', () => {
    const syntax = 'The Authorization header must be "Bearer" and one token';

    it.each([
      ['no token', 'Bearer'],
      ['two tokens', 'Bearer VALID VALID'],
      ['a comma-separated list', 'Bearer VALID, Bearer VALID'],
      ['characters outside b64token', 'Bearer VALID;x'],
    ])('for %s', async (_, authorization) => {
      const { baseUrl } = await startDefaultService();
      const { token } = await issue();
      const answer = await call(`${baseUrl}/orders`, authorization.replaceAll('VALID', token));
      expect(refusal(answer)).toEqual({
        status: 400,
        code: 'ERR_ACCESS_TOKEN_REQUEST_INVALID',
        challenge: invalidRequest(syntax),
      });
    });

    it('for two Authorization headers, even if both are valid', async () => {
      const { baseUrl } = await startDefaultService();
      const { token } = await issue();
      // fetch and node:http's client would merge or refuse them, so the request is written by hand.
      const answer = await rawGet(baseUrl, '/orders', [
        `Authorization: Bearer ${token}`,
        `Authorization: Bearer ${token}`,
      ]);
      expect(refusal(answer)).toEqual({
        status: 400,
        code: 'ERR_ACCESS_TOKEN_REQUEST_INVALID',
        challenge: invalidRequest('Exactly one Authorization header is allowed'),
      });
    });

    it('for a token in the query string, alone or with a valid header', async () => {
      const { baseUrl } = await startDefaultService();
      const { token } = await issue();
      for (const authorization of [undefined, `Bearer ${token}`]) {
        const answer = await call(`${baseUrl}/orders?access_token=${token}`, authorization);
        expect(refusal(answer)).toEqual({
          status: 400,
          code: 'ERR_ACCESS_TOKEN_REQUEST_INVALID',
          challenge: invalidRequest('Access tokens are not accepted in the query string'),
        });
      }
    });
  });

  describe('answers 401 ERR_ACCESS_TOKEN_INVALID without saying why', () => {
    it('for a malformed token', async () => {
      const { baseUrl } = await startDefaultService();
      const answer = await call(`${baseUrl}/orders`, 'Bearer not-a-jwt');
      expect(refusal(answer)).toEqual({ status: 401, code: 'ERR_ACCESS_TOKEN_INVALID', challenge: INVALID });
      expect(answer.body.message).toBe('The access token is invalid');
    });

    it.each<[string, Record<string, unknown>, Partial<SignJwtOptions>]>([
      ['another issuer', RFC9068_CLAIMS, { issuer: 'https://evil.test' }],
      ['another audience', RFC9068_CLAIMS, { audience: 'https://billing.maxpoint.test' }],
      ['another type (typ JWT, e.g. an ID token)', RFC9068_CLAIMS, { typ: 'JWT' }],
      ['no client_id (required by RFC 9068)', { scope: 'orders:read' }, {}],
      ['a non-string client_id', { client_id: 42, scope: 'orders:read' }, {}],
      ['a non-string scope', { client_id: 'client-42', scope: ['orders:read'] }, {}],
    ])('for a token of %s', async (_, claims, options) => {
      const { baseUrl } = await startDefaultService();
      const { token } = await issue(claims, options);
      const answer = await call(`${baseUrl}/orders`, `Bearer ${token}`);
      expect(refusal(answer)).toEqual({ status: 401, code: 'ERR_ACCESS_TOKEN_INVALID', challenge: INVALID });
      // The reason (e.g. the expected issuer or audience) stays in the logs.
      expect(answer.body.message).toBe('The access token is invalid');
    });

    it('for a token signed by a key the issuer does not publish (unknown kid)', async () => {
      const { baseUrl } = await startDefaultService();
      const { token } = await issue(RFC9068_CLAIMS, {}, strangerKeys);
      const answer = await call(`${baseUrl}/orders`, `Bearer ${token}`);
      expect(refusal(answer)).toEqual({ status: 401, code: 'ERR_ACCESS_TOKEN_INVALID', challenge: INVALID });
    });

    it('for a token signed by another key under the issuer kid', async () => {
      const { baseUrl } = await startDefaultService();
      const { token, claims } = await issue(RFC9068_CLAIMS, {}, strangerKeys);
      const { alg, key } = strangerKeys.signingKey;
      const forged = await forgeToken({ alg, kid: issuerKeys.signingKey.kid, typ: 'at+jwt' }, claims, { alg, key });
      expect(forged).not.toBe(token);
      const answer = await call(`${baseUrl}/orders`, `Bearer ${forged}`);
      expect(refusal(answer)).toEqual({ status: 401, code: 'ERR_ACCESS_TOKEN_INVALID', challenge: INVALID });
    });

    it('for alg none', async () => {
      const { baseUrl } = await startDefaultService();
      const { claims } = await issue();
      const unsigned = await forgeToken({ alg: 'none', kid: issuerKeys.signingKey.kid, typ: 'at+jwt' }, claims);
      const answer = await call(`${baseUrl}/orders`, `Bearer ${unsigned}`);
      expect(refusal(answer)).toEqual({ status: 401, code: 'ERR_ACCESS_TOKEN_INVALID', challenge: INVALID });
    });

    it('for a valid token whose claims were changed after signing', async () => {
      const { baseUrl } = await startDefaultService();
      const { token, claims } = await issue({ client_id: 'client-42', scope: 'orders:write' });
      const [header, , signature] = token.split('.');
      const payload = Buffer.from(JSON.stringify({ ...claims, scope: 'orders:read' })).toString('base64url');
      const answer = await call(`${baseUrl}/orders`, `Bearer ${header}.${payload}.${signature}`);
      expect(refusal(answer)).toEqual({ status: 401, code: 'ERR_ACCESS_TOKEN_INVALID', challenge: INVALID });
    });
  });

  it('answers 401 ERR_ACCESS_TOKEN_EXPIRED for an expired token', async () => {
    const { baseUrl } = await startDefaultService();
    const { token } = await issue(RFC9068_CLAIMS, { now: new Date(Date.now() - 3_600_000), expiresInSeconds: 300 });
    const answer = await call(`${baseUrl}/orders`, `Bearer ${token}`);
    expect(refusal(answer)).toEqual({ status: 401, code: 'ERR_ACCESS_TOKEN_EXPIRED', challenge: EXPIRED });
  });

  it('honours clockToleranceSeconds for a token that expired just now', async () => {
    const { baseUrl } = await startDefaultService({ clockToleranceSeconds: 60 });
    const { token } = await issue(RFC9068_CLAIMS, { now: new Date(Date.now() - 310_000), expiresInSeconds: 300 });
    const answer = await call(`${baseUrl}/orders`, `Bearer ${token}`);
    expect({ status: answer.status, challenge: answer.challenge }).toEqual({ status: 200, challenge: null });
  });

  describe('answers 403 ERR_INSUFFICIENT_SCOPE naming the required scopes', () => {
    it('when the token lacks the route scope', async () => {
      const { baseUrl } = await startDefaultService();
      const { token } = await issue({ client_id: 'client-42', scope: 'orders:write invoices:read' });
      const answer = await call(`${baseUrl}/orders`, `Bearer ${token}`);
      expect(refusal(answer)).toEqual({
        status: 403,
        code: 'ERR_INSUFFICIENT_SCOPE',
        challenge: insufficientScope('orders:read'),
      });
    });

    it('when the token has no scope claim at all', async () => {
      const { baseUrl } = await startDefaultService();
      const { token } = await issue({ client_id: 'client-42' });
      const answer = await call(`${baseUrl}/orders/7`, `Bearer ${token}`, 'DELETE');
      expect(refusal(answer)).toEqual({
        status: 403,
        code: 'ERR_INSUFFICIENT_SCOPE',
        challenge: insufficientScope('orders:write'),
      });
    });

    it('when the token lacks a scope of requiredScopes (which adds to the route scopes)', async () => {
      const { baseUrl } = await startDefaultService({ requiredScopes: ['orders'] });
      const { token } = await issue();
      const answer = await call(`${baseUrl}/orders`, `Bearer ${token}`);
      expect(refusal(answer)).toEqual({
        status: 403,
        code: 'ERR_INSUFFICIENT_SCOPE',
        challenge: insufficientScope('orders orders:read'),
      });
      const { token: withBoth } = await issue({ client_id: 'client-42', scope: 'orders orders:read' });
      expect((await call(`${baseUrl}/orders`, `Bearer ${withBoth}`)).status).toBe(200);
    });
  });

  it('answers 503 ERR_JWKS_UNAVAILABLE, not 401, when the JWKS cannot be fetched', async () => {
    const jwks = await startJwksServer(issuerKeys);
    await jwks.close();
    const baseUrl = await startService({
      jwksUrl: jwks.url,
      issuer: ISSUER,
      audience: AUDIENCE,
      timeoutDuration: 1000,
    });
    const { token } = await issue();
    const answer = await call(`${baseUrl}/orders`, `Bearer ${token}`);
    expect(refusal(answer)).toEqual({ status: 503, code: 'ERR_JWKS_UNAVAILABLE', challenge: null });
    expect(answer.body.message).toBe('The access token cannot be verified right now');
  });

  it('picks up a key the issuer publishes after the first fetch, refetching at most once per cooldown', async () => {
    const cooldownDuration = 1_000;
    const jwks = await startJwksServer(issuerKeys);
    const baseUrl = await startService({ jwksUrl: jwks.url, issuer: ISSUER, audience: AUDIENCE, cooldownDuration });
    const { token: oldToken } = await issue();
    expect((await call(`${baseUrl}/orders`, `Bearer ${oldToken}`)).status).toBe(200);
    expect(jwks.requests()).toBe(1);

    // The issuer rotates: the next key signs, the current one stays published for its tokens.
    jwks.publish(await importKeySet({ jwks: { keys: [nextJwk, currentJwk] } }));
    const { token: newToken } = await issue(RFC9068_CLAIMS, {}, nextKeys);

    // Within the cooldown an unknown kid does not refetch (it could be anyone's), so the token is refused for now.
    const early = await call(`${baseUrl}/orders`, `Bearer ${newToken}`);
    expect(refusal(early)).toEqual({ status: 401, code: 'ERR_ACCESS_TOKEN_INVALID', challenge: INVALID });
    expect(jwks.requests()).toBe(1);

    await sleep(cooldownDuration + 100);
    const late = await call(`${baseUrl}/orders`, `Bearer ${newToken}`);
    expect({ status: late.status, challenge: late.challenge }).toEqual({ status: 200, challenge: null });
    expect(jwks.requests()).toBe(2);
    // Old tokens keep working from the refreshed set, without another fetch.
    expect((await call(`${baseUrl}/orders`, `Bearer ${oldToken}`)).status).toBe(200);
    expect(jwks.requests()).toBe(2);
  });

  it('works with a keySource instead of a JWKS URL', async () => {
    const baseUrl = await startService({ keySource: issuerKeys, issuer: ISSUER, audience: AUDIENCE });
    const { token } = await issue();
    const ok = await call(`${baseUrl}/orders`, `Bearer ${token}`);
    expect({ status: ok.status, challenge: ok.challenge }).toEqual({ status: 200, challenge: null });
    const { token: stranger } = await issue(RFC9068_CLAIMS, {}, strangerKeys);
    const refused = await call(`${baseUrl}/orders`, `Bearer ${stranger}`);
    expect(refusal(refused)).toEqual({ status: 401, code: 'ERR_ACCESS_TOKEN_INVALID', challenge: INVALID });
  });

  it("leaves the body to the app's error handler and still sends the challenge", async () => {
    const jwks = await startJwksServer(issuerKeys);
    const baseUrl = await startService({ jwksUrl: jwks.url, issuer: ISSUER, audience: AUDIENCE }, (app) => {
      app.setErrorHandler((error: { statusCode?: number; code?: string }, _request, reply) =>
        reply.code(error.statusCode ?? 500).send({ failure: error.code }),
      );
    });
    const { token } = await issue({ client_id: 'client-42', scope: 'orders:write' });
    const answer = await call(`${baseUrl}/orders`, `Bearer ${token}`);
    expect({ status: answer.status, body: answer.body, challenge: answer.challenge }).toEqual({
      status: 403,
      body: { failure: 'ERR_INSUFFICIENT_SCOPE' },
      challenge: insufficientScope('orders:read'),
    });
  });

  it('protects a group of routes with one hook, and combines it with route scopes', async () => {
    const jwks = await startJwksServer(issuerKeys);
    const baseUrl = await startService({ jwksUrl: jwks.url, issuer: ISSUER, audience: AUDIENCE }, async (app) => {
      await app.register(
        async (admin) => {
          admin.addHook('onRequest', admin.requireAccessToken({ scopes: ['admin'] }));
          admin.get('/whoami', async (request) => ({ clientId: request.accessToken.clientId }));
          admin.post('/purge', { onRequest: admin.requireAccessToken({ scopes: ['purge'] }) }, async () => ({}));
        },
        { prefix: '/admin' },
      );
    });
    const missing = await call(`${baseUrl}/admin/whoami`);
    expect(refusal(missing)).toEqual({ status: 401, code: 'ERR_ACCESS_TOKEN_MISSING', challenge: 'Bearer' });

    const { token: adminOnly } = await issue({ client_id: 'client-42', scope: 'admin' });
    const whoami = await call(`${baseUrl}/admin/whoami`, `Bearer ${adminOnly}`);
    expect({ status: whoami.status, body: whoami.body }).toEqual({ status: 200, body: { clientId: 'client-42' } });
    const purge = await call(`${baseUrl}/admin/purge`, `Bearer ${adminOnly}`, 'POST');
    expect(refusal(purge)).toEqual({
      status: 403,
      code: 'ERR_INSUFFICIENT_SCOPE',
      challenge: insufficientScope('purge'),
    });

    const { token: purger } = await issue({ client_id: 'client-42', scope: 'purge' });
    const notAdmin = await call(`${baseUrl}/admin/purge`, `Bearer ${purger}`, 'POST');
    expect(refusal(notAdmin)).toEqual({
      status: 403,
      code: 'ERR_INSUFFICIENT_SCOPE',
      challenge: insufficientScope('admin'),
    });
    const { token: both } = await issue({ client_id: 'client-42', scope: 'admin purge' });
    expect((await call(`${baseUrl}/admin/purge`, `Bearer ${both}`, 'POST')).status).toBe(200);
  });

  it('fails with a 500 when a handler reads request.accessToken on an unguarded route', async () => {
    const { baseUrl } = await startDefaultService();
    const { token } = await issue();
    const answer = await call(`${baseUrl}/unguarded`, `Bearer ${token}`);
    expect({ status: answer.status, challenge: answer.challenge }).toEqual({ status: 500, challenge: null });
    expect(answer.body.message).toContain('without requireAccessToken');
  });

  describe('refuses bad options when registered', () => {
    it.each<[string, Record<string, unknown>, string]>([
      ['neither jwksUrl nor keySource', { issuer: ISSUER, audience: AUDIENCE }, 'ERR_ARGUMENT_INVALID'],
      [
        'both jwksUrl and keySource',
        { jwksUrl: 'https://x.test/jwks.json', keySource: {}, issuer: ISSUER, audience: AUDIENCE },
        'ERR_ARGUMENT_INVALID',
      ],
      [
        'a keySource that is no key set',
        { keySource: { keys: [] }, issuer: ISSUER, audience: AUDIENCE },
        'ERR_ARGUMENT_INVALID',
      ],
      ['an invalid jwksUrl', { jwksUrl: 'not a url', issuer: ISSUER, audience: AUDIENCE }, 'ERR_KEY_CONFIG_INVALID'],
      [
        'an empty issuer',
        { jwksUrl: 'https://x.test/jwks.json', issuer: '', audience: AUDIENCE },
        'ERR_ARGUMENT_INVALID',
      ],
      ['no audience', { jwksUrl: 'https://x.test/jwks.json', issuer: ISSUER }, 'ERR_ARGUMENT_INVALID'],
      [
        'alg none',
        { jwksUrl: 'https://x.test/jwks.json', issuer: ISSUER, audience: AUDIENCE, algorithms: ['none'] },
        'ERR_ARGUMENT_INVALID',
      ],
      [
        'a scope with a quote',
        { jwksUrl: 'https://x.test/jwks.json', issuer: ISSUER, audience: AUDIENCE, requiredScopes: ['a"b'] },
        'ERR_ARGUMENT_INVALID',
      ],
    ])('%s', async (_, options, code) => {
      const app = Fastify();
      cleanups.push(() => app.close());
      app.register(accessTokenAuth, options as never);
      await expect(app.ready()).rejects.toMatchObject({ code });
    });

    it('and bad route scopes when the guard is created', async () => {
      const app = Fastify();
      cleanups.push(() => app.close());
      await app.register(accessTokenAuth, { keySource: issuerKeys, issuer: ISSUER, audience: AUDIENCE });
      for (const scopes of [['orders read'], [''], ['a\\b'], 'orders:read']) {
        expect(() => app.requireAccessToken({ scopes: scopes as string[] })).toThrow(
          expect.objectContaining({ code: 'ERR_ARGUMENT_INVALID' }),
        );
      }
    });
  });
});
