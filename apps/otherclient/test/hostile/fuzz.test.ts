// Property-based tests over every route: whatever arrives (bodies, bytes, content types, headers, query strings, paths,
// methods), the answer is never a 5xx, a refusal is in the envelope (RFC 6749 §5.2 shape on /oauth/*), never in
// Fastify's default `{statusCode, error, message}`, and a refused request writes no row (except the documented
// token_audit row of a failed client authentication).

import {
  authorization,
  contentType,
  decodedPath,
  deeplyNested,
  describeRequest,
  envelopeProblems,
  extraHeaders,
  type FuzzRequest,
  growth,
  growthProblems,
  hostileJson,
  hostileKey,
  hostileString,
  isFastifyFrameworkError,
  KnownBugTally,
  METHODS,
  mutateToken,
  oauthErrorProblems,
  pathVariant,
  queryString,
  rawBytesRequest,
  fuzzRequest as request,
  runs,
  SEED,
  send,
  tableCounter,
  toJsonText,
  trickyJsonText,
  UNLIMITED,
} from '@mxp/testing/hostile-requests';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setClientStatus } from '../../src/services/clients.js';
import { basicAuth, newClient, startApp, type TestApp, type TestClient } from '../routes/support.js';

const BODY_LIMIT = 65_536;
// Each property takes 1-4 s here; the margin is for slow machines (a timed-out property would keep running).
const PROPERTY_TIMEOUT = 60_000;
const JSON_TYPE = 'application/json';
const FORM_TYPE = 'application/x-www-form-urlencoded';

interface Route {
  method: 'GET' | 'POST';
  path: string;
  body: 'api' | 'oauth' | 'none';
}

const ROUTES: readonly Route[] = [
  { method: 'POST', path: '/api/auth/token', body: 'api' },
  { method: 'GET', path: '/api/auth/token/info', body: 'none' },
  { method: 'POST', path: '/oauth/token', body: 'oauth' },
  { method: 'POST', path: '/oauth/introspect', body: 'oauth' },
  { method: 'POST', path: '/oauth/revoke', body: 'oauth' },
  { method: 'GET', path: '/.well-known/oauth-authorization-server', body: 'none' },
  { method: 'GET', path: '/.well-known/jwks.json', body: 'none' },
  { method: 'GET', path: '/api/auth/.well-known/jwks.json', body: 'none' },
  { method: 'GET', path: '/api/auth/health', body: 'none' },
];
const POST_ROUTES = ROUTES.filter((route) => route.method === 'POST');
const OAUTH_PATHS = new Set(['/oauth/token', '/oauth/introspect', '/oauth/revoke']);
// Routes that record a token_audit row when client authentication fails (README: "every failed authentication").
const AUDITED_PATHS = new Set(['/api/auth/token', ...OAUTH_PATHS]);

let testApp: TestApp;
let client: TestClient;
let disabled: TestClient;
let token: string;
let counts: () => Promise<Record<string, number>>;
const knownBugs = new KnownBugTally();

beforeAll(async () => {
  testApp = await startApp(UNLIMITED);
  client = await newClient(testApp, { name: 'Fuzzed', scopes: ['orders:read', 'token:introspect'] });
  disabled = await newClient(testApp, { name: 'Disabled' });
  await setClientStatus(testApp.db, disabled.clientId, 'disabled', 'vitest');
  const response = await testApp.app.inject({ method: 'POST', url: '/api/auth/token', payload: client });
  token = response.json().data.token;
  const countRows = await tableCounter(testApp.db, 'otherclient');
  // The app writes its token audit rows in batches: a count includes every row recorded so far.
  counts = async () => {
    await testApp.app.tokenAudit.flush();
    return countRows();
  };
});
afterAll(async () => {
  console.info(`otherclient fuzz (seed ${SEED}): known bugs hit: ${knownBugs}`);
  await testApp?.close();
});

// ─── bodies ───

/** Values of the credential fields: junk, the real ones, near-misses, and non-strings. */
function credentialValue(): fc.Arbitrary<unknown> {
  const secretNearMiss = fc
    .constant(undefined)
    .map(() => `${client.clientSecret.slice(0, -1)}${client.clientSecret.endsWith('0') ? '1' : '0'}`);
  return fc.oneof(
    { weight: 4, arbitrary: hostileString },
    { weight: 2, arbitrary: fc.constantFrom(client.clientId, client.clientSecret, disabled.clientId) },
    { weight: 1, arbitrary: secretNearMiss },
    { weight: 1, arbitrary: fc.constantFrom(client.clientId.toUpperCase(), ` ${client.clientId}`) },
    { weight: 1, arbitrary: hostileJson(['clientId', 'clientSecret']) },
  );
}

const API_FIELDS = ['clientId', 'clientSecret'];
const OAUTH_FIELDS = ['grant_type', 'client_id', 'client_secret', 'scope', 'token', 'token_type_hint'];

/** `POST /api/auth/token` bodies shaped like the real one, with every field possibly wrong. */
function apiBody(): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.record({ clientId: credentialValue(), clientSecret: credentialValue() }, { requiredKeys: [] }),
      fc.dictionary(hostileKey(API_FIELDS), hostileJson(API_FIELDS), { maxKeys: 2 }),
      fc.boolean(),
    )
    .map(([fields, extra, withExtra]) => toJsonText(withExtra ? { ...fields, ...extra } : fields));
}

/** OAuth form bodies: known and unknown parameters, repeated ones, real and hostile values, raw bad escapes. */
function oauthBody(path: string): fc.Arbitrary<string> {
  const value = fc.oneof(
    { weight: 4, arbitrary: hostileString },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        'client_credentials',
        'password',
        'authorization_code',
        'refresh_token',
        client.clientId,
        client.clientSecret,
        disabled.clientId,
        'orders:read',
        'orders:read admin',
        'access_token',
      ),
    },
    { weight: 2, arbitrary: mutateToken(token) },
  );
  const pairs = fc.array(fc.tuple(hostileKey(OAUTH_FIELDS), value), { maxLength: 6 });
  // Only the parameters the endpoint knows, each possibly absent: these get past validation to authentication.
  const presented = { client_id: value, client_secret: value };
  const wellFormed = (
    path === '/oauth/token'
      ? fc.record(
          { grant_type: fc.oneof(fc.constant('client_credentials'), value), scope: value, ...presented },
          { requiredKeys: ['grant_type'] },
        )
      : fc.record({ token: value, token_type_hint: value, ...presented }, { requiredKeys: ['token'] })
  ).map((fields: Record<string, string>) => new URLSearchParams(fields).toString());
  return fc.oneof(
    { weight: 5, arbitrary: wellFormed },
    { weight: 3, arbitrary: pairs.map((list) => new URLSearchParams(list).toString()) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(pairs, fc.constantFrom('%', '%ZZ', '%ED%A0%80', '%00', '&&', '==', '+', 'a[]=1&a[]=2', '%C0%80'))
        .map(([list, raw]) => `${new URLSearchParams(list).toString()}&${raw}`),
    },
  );
}

function structuredBody(route: Route): fc.Arbitrary<string> {
  return route.body === 'oauth' ? oauthBody(route.path) : apiBody();
}

/** Any JSON text: structured, generated by fast-check, odd, or deeply nested. */
function jsonText(route: Route): fc.Arbitrary<string> {
  const fields = route.body === 'oauth' ? OAUTH_FIELDS : API_FIELDS;
  return fc.oneof(
    { weight: 5, arbitrary: structuredBody(route) },
    { weight: 2, arbitrary: fc.json({ maxDepth: 4 }) },
    { weight: 1, arbitrary: fc.anything({ maxDepth: 3 }).map(toJsonText) },
    { weight: 2, arbitrary: hostileJson(fields).map(toJsonText) },
    { weight: 1, arbitrary: trickyJsonText },
    { weight: 1, arbitrary: deeplyNested((inner) => `{"clientId":${inner},"clientSecret":"x"}`) },
  );
}

function typeFor(route: Route): fc.Arbitrary<string | undefined> {
  const own = route.body === 'oauth' ? FORM_TYPE : JSON_TYPE;
  return fc.oneof({ weight: 4, arbitrary: fc.constant(own) }, { weight: 1, arbitrary: contentType });
}

// ─── the oracle ───

/** The route a URL names as the router sees it: percent-decoded, without a trailing slash (ignoreTrailingSlash). */
function routePath(url: string): string {
  const path = decodedPath(url) ?? '';
  return path.length > 1 ? path.replace(/\/$/, '') : path;
}

async function sendAndCheck(generated: FuzzRequest): Promise<void> {
  const before = await counts();
  const response = await send(testApp.app, generated);
  const delta = growth(before, await counts());
  checkResponse(generated, response, delta);
}

function checkResponse(generated: FuzzRequest, response: LightMyRequestResponse, delta: Record<string, number>) {
  const context = () => `${describeRequest(generated)}\n→ ${response.statusCode} ${response.body.slice(0, 400)}`;
  const status = response.statusCode;
  expect(status, context()).toBeLessThan(500);
  expect(status, context()).toBeGreaterThanOrEqual(200);

  const path = routePath(generated.url);
  // Known bug (see the regression test below): Fastify answers URLs it cannot decode in its own shape.
  if (decodedPath(generated.url) === undefined && isFastifyFrameworkError(response)) {
    knownBugs.hit('FST_ERR_BAD_URL in Fastify shape');
    expect(delta, context()).toEqual({});
    return;
  }
  if (status < 400) {
    if (generated.method === 'GET' || generated.method === 'HEAD') expect(delta, context()).toEqual({});
    return;
  }

  if (generated.method !== 'HEAD') {
    expect(response.body, context()).not.toMatch(/"statusCode"/);
    // The OAuth routes answer in the RFC 6749 shape; what no route matched (404) is in the envelope everywhere.
    const oauthShaped = 'error' in safeJson(response.body) && !('code' in safeJson(response.body));
    const mustBeOAuth = generated.method === 'POST' && OAUTH_PATHS.has(path) && status !== 404;
    const mayBeOAuth = path.startsWith('/oauth/');
    const problems =
      mustBeOAuth || (mayBeOAuth && oauthShaped) ? oauthErrorProblems(response) : envelopeProblems(response);
    expect(problems, context()).toEqual([]);
  }

  // Rows: a failed client authentication (401) writes its audit row (and a second one when it starts a lock) and
  // counts against the presented id's backoff row; a scope refused after a successful authentication is audited too.
  // Nothing else refused writes anything.
  const body = safeJson(response.body);
  const credentialsRoute = generated.method === 'POST' && AUDITED_PATHS.has(path);
  const allowed: Record<string, number[]> =
    credentialsRoute && status === 401
      ? { token_audit: [1, 2], client_backoff: [0, 1] }
      : credentialsRoute && status === 400 && body.error === 'invalid_scope'
        ? { token_audit: [1] }
        : {};
  expect(growthProblems(delta, allowed), context()).toEqual([]);
}

function safeJson(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

// ─── properties ───

describe('otherclient under generated hostile requests', () => {
  it(
    'JSON and form bodies of every shape on every POST route: 4xx in the right shape, no row unless audited',
    async () => {
      const arbitrary = fc
        .constantFrom(...POST_ROUTES)
        .chain((route) =>
          fc
            .tuple(jsonText(route), typeFor(route), fc.boolean())
            .map(([payload, type, asBuffer]) =>
              request(route.method, route.path, { 'content-type': type }, asBuffer ? Buffer.from(payload) : payload),
            ),
        );
      await fc.assert(fc.asyncProperty(arbitrary, sendAndCheck), runs(700));
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'raw bytes (invalid UTF-8, lone surrogates, NUL, BOMs, UTF-16, at the size limit) with any content type and method',
    async () => {
      const arbitrary = rawBytesRequest(ROUTES, BODY_LIMIT);
      await fc.assert(fc.asyncProperty(arbitrary, sendAndCheck), runs(500));
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'Authorization variants (Bearer/Basic junk, mutated real tokens, huge values) and random headers on every route',
    async () => {
      const arbitrary = fc.constantFrom(...ROUTES).chain((route) =>
        fc
          .tuple(
            authorization([token]),
            extraHeaders,
            route.method === 'POST' ? structuredBody(route) : fc.constant(undefined),
          )
          .map(([auth, extra, payload]) =>
            request(
              route.method,
              route.path,
              {
                ...extra,
                authorization: auth,
                'content-type': route.body === 'none' ? undefined : route.body === 'oauth' ? FORM_TYPE : JSON_TYPE,
              },
              payload,
            ),
          ),
      );
      await fc.assert(fc.asyncProperty(arbitrary, sendAndCheck), runs(600));
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'query strings, path variations and methods on every route',
    async () => {
      const arbitrary = fc
        .constantFrom(...ROUTES)
        .chain((route) =>
          fc
            .tuple(
              pathVariant(route.path),
              fc.option(queryString, { nil: undefined }),
              fc.oneof(
                { weight: 3, arbitrary: fc.constant(route.method) },
                { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
              ),
              route.body === 'none' ? fc.constant(undefined) : structuredBody(route),
            )
            .map(([path, query, method, payload]) =>
              request(
                method,
                query === undefined ? path : `${path}?${query}`,
                { 'content-type': route.body === 'oauth' ? FORM_TYPE : route.body === 'api' ? JSON_TYPE : undefined },
                method === 'GET' || method === 'HEAD' ? undefined : payload,
              ),
            ),
        );
      await fc.assert(fc.asyncProperty(arbitrary, sendAndCheck), runs(500));
    },
    PROPERTY_TIMEOUT,
  );

  it(
    "the OAuth endpoints with the real client's credentials: hostile tokens, hints, scopes and grant types",
    async () => {
      const credentials = fc.constantFrom<'basic' | 'post'>('basic', 'post');
      const arbitrary = fc
        .tuple(
          fc.constantFrom('/oauth/token', '/oauth/introspect', '/oauth/revoke'),
          credentials,
          fc.oneof(mutateToken(token), hostileString),
          fc.oneof(hostileString, fc.constantFrom('orders:read', 'orders:read token:introspect', 'admin', ' ', '')),
          fc.oneof(hostileString, fc.constantFrom('access_token', 'refresh_token')),
          fc.constantFrom('client_credentials', 'client_credentials', 'password', ''),
        )
        .map(([path, method, presented, scope, hint, grant]) => {
          const fields: Record<string, string> =
            path === '/oauth/token' ? { grant_type: grant, scope } : { token: presented, token_type_hint: hint };
          if (method === 'post')
            Object.assign(fields, { client_id: client.clientId, client_secret: client.clientSecret });
          return request(
            'POST',
            path,
            {
              'content-type': FORM_TYPE,
              authorization: method === 'basic' ? basicAuth(client.clientId, client.clientSecret) : undefined,
            },
            new URLSearchParams(fields).toString(),
          );
        });
      await fc.assert(fc.asyncProperty(arbitrary, sendAndCheck), runs(400));
    },
    PROPERTY_TIMEOUT,
  );
});

describe('regressions found by the properties', () => {
  // Fastify answers a path whose percent-escapes do not decode itself (fastify.js onBadUrl) unless the server has
  // `frameworkErrors`; baseFastifyOptions (packages/service-kit/src/fastify-options.ts) sets none.
  it('a path whose percent-escapes do not decode is a 400 in the envelope, not Fastify’s FST_ERR_BAD_URL body', async () => {
    for (const url of ['/api/auth/%ZZ', '/api/auth/health%ED%A0%80', '/oauth/token%']) {
      const response = await testApp.app.inject({ method: 'GET', url });
      expect(response.statusCode).toBe(400);
      expect(envelopeProblems(response)).toEqual([]);
    }
  });
});
