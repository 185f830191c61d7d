import { issuerOf } from '@mxp/service-kit';
import { jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setClientStatus } from '../../src/services/clients.js';
import {
  auditRows,
  basicAuth,
  FORM,
  form,
  freshIp,
  isFastifyDefaultError,
  newClient,
  servedJwks,
  stableHeaders,
  startApp,
  type TestApp,
  type TestClient,
} from './support.js';

let testApp: TestApp;
let client: TestClient;

beforeAll(async () => {
  // A tiny credentials limit; every test but the rate-limit one uses addresses of its own (`freshIp`).
  testApp = await startApp({ RATE_LIMIT_CREDENTIALS_PER_MINUTE: '3' });
  client = await newClient(testApp, { name: 'OAuth client', scopes: ['orders:read', 'orders:write', 'stock:read'] });
});
afterAll(async () => {
  await testApp?.close();
});

interface TokenRequest {
  body?: string;
  headers?: Record<string, string>;
  remoteAddress?: string;
}

function postToken({ body = '', headers = FORM, remoteAddress = freshIp() }: TokenRequest) {
  return testApp.app.inject({ method: 'POST', url: '/oauth/token', remoteAddress, headers, payload: body });
}

function withBasic(credentials: TestClient, parameters: Record<string, string>, remoteAddress?: string) {
  return postToken({
    body: form(parameters),
    headers: { ...FORM, authorization: basicAuth(credentials.clientId, credentials.clientSecret) },
    ...(remoteAddress ? { remoteAddress } : {}),
  });
}

function withPost(credentials: TestClient, parameters: Record<string, string>, remoteAddress?: string) {
  return postToken({
    body: form({ ...parameters, client_id: credentials.clientId, client_secret: credentials.clientSecret }),
    ...(remoteAddress ? { remoteAddress } : {}),
  });
}

function expectNoStore(response: Awaited<ReturnType<typeof postToken>>) {
  expect(response.headers['cache-control']).toBe('no-store');
  expect(response.headers.pragma).toBe('no-cache');
  expect(response.headers['content-type']).toMatch(/^application\/json/);
}

/** An RFC 6749 §5.2 error body: `error`, maybe an ASCII `error_description`, nothing else. */
function expectOAuthError(response: Awaited<ReturnType<typeof postToken>>, status: number, error: string) {
  expect(response.statusCode).toBe(status);
  const body = response.json();
  expect(isFastifyDefaultError(body)).toBe(false);
  expect(body.error).toBe(error);
  expect(Object.keys(body).every((key) => key === 'error' || key === 'error_description')).toBe(true);
  expectNoStore(response);
}

function expectInvalidClient(response: Awaited<ReturnType<typeof postToken>>) {
  expectOAuthError(response, 401, 'invalid_client');
  expect(response.headers['www-authenticate']).toBe('Basic realm="mxp-auth", charset="UTF-8"');
}

describe.each([
  ['client_secret_basic', withBasic],
  ['client_secret_post', withPost],
] as const)('POST /oauth/token with %s', (_method, send) => {
  it('answers an RFC 6749 §5.1 token response with every allowed scope by default', async () => {
    const remoteAddress = freshIp();
    const response = await send(client, { grant_type: 'client_credentials' }, remoteAddress);
    expect(response.statusCode).toBe(200);
    expectNoStore(response);
    const body = response.json();
    expect(body).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'orders:read orders:write stock:read',
    });

    const { keys } = await servedJwks(testApp);
    const { payload, protectedHeader } = await jwtVerify(body.access_token, keys, {
      issuer: issuerOf(testApp.config),
      audience: 'maxpoint-api',
      typ: 'at+jwt',
      algorithms: ['ES256'],
    });
    expect(protectedHeader.kid).toBe(testApp.app.signingKeys.signingKey.kid);
    expect(payload).toMatchObject({
      sub: client.clientId,
      client_id: client.clientId,
      scope: 'orders:read orders:write stock:read',
    });
    expect(payload.exp).toBe((payload.iat as number) + 3600);

    await testApp.app.tokenAudit.flush();
    expect(await testApp.db.tokenAudit.findMany({ where: { ip: remoteAddress } })).toEqual([
      expect.objectContaining({
        clientId: client.clientId,
        result: 'issued',
        reason: 'current_secret',
        tokenId: payload.jti,
        grantType: 'client_credentials',
      }),
    ]);
  });

  it('grants exactly the requested subset of scopes', async () => {
    const response = await send(client, { grant_type: 'client_credentials', scope: 'stock:read orders:read' });
    expect(response.statusCode).toBe(200);
    expect(response.json().scope).toBe('stock:read orders:read');
    const { keys } = await servedJwks(testApp);
    const { payload } = await jwtVerify(response.json().access_token, keys, {
      issuer: issuerOf(testApp.config),
      audience: 'maxpoint-api',
    });
    expect(payload.scope).toBe('stock:read orders:read');
  });

  it('answers invalid_scope for a scope the client is not allowed, auditing it', async () => {
    for (const scope of ['admin', 'orders:read admin', 'orders']) {
      const remoteAddress = freshIp();
      const response = await send(client, { grant_type: 'client_credentials', scope }, remoteAddress);
      expectOAuthError(response, 400, 'invalid_scope');
      await testApp.app.tokenAudit.flush();
      expect(await testApp.db.tokenAudit.findMany({ where: { ip: remoteAddress } })).toEqual([
        expect.objectContaining({ clientId: client.clientId, result: 'failed', reason: 'invalid_scope' }),
      ]);
    }
  });

  it('answers invalid_client for a wrong secret, auditing it without the secret', async () => {
    const remoteAddress = freshIp();
    const response = await send(
      { clientId: client.clientId, clientSecret: 'not-the-secret' },
      { grant_type: 'client_credentials' },
      remoteAddress,
    );
    expectInvalidClient(response);
    await testApp.app.tokenAudit.flush();
    expect(await testApp.db.tokenAudit.findMany({ where: { ip: remoteAddress } })).toEqual([
      expect.objectContaining({
        clientId: client.clientId,
        result: 'failed',
        reason: 'bad_secret',
        grantType: 'client_credentials',
      }),
    ]);
    await testApp.app.tokenAudit.flush();
    expect(JSON.stringify(await auditRows(testApp.db))).not.toContain('not-the-secret');
  });
});

describe('POST /oauth/token: scopes and client settings', () => {
  it('omits scope (response and token) for a client without scopes, and refuses any scope it asks for', async () => {
    const plain = await newClient(testApp, { name: 'Plain', audience: 'billing-api', tokenTtlSeconds: 300 });
    const response = await withBasic(plain, { grant_type: 'client_credentials' });
    expect(response.json()).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 300 });
    const { keys } = await servedJwks(testApp);
    const { payload } = await jwtVerify(response.json().access_token, keys, {
      issuer: issuerOf(testApp.config),
      audience: 'billing-api',
    });
    expect(payload).not.toHaveProperty('scope');
    expectOAuthError(await withBasic(plain, { grant_type: 'client_credentials', scope: 'x' }), 400, 'invalid_scope');
  });

  it('treats an empty scope as every allowed scope and repeated scopes once', async () => {
    const empty = await withPost(client, { grant_type: 'client_credentials', scope: '' });
    expect(empty.json().scope).toBe('orders:read orders:write stock:read');
    const repeated = await withPost(client, { grant_type: 'client_credentials', scope: 'orders:read orders:read' });
    expect(repeated.json().scope).toBe('orders:read');
  });

  it('decodes form-urlencoded Basic credentials (RFC 6749 §2.3.1)', async () => {
    const encodedId = client.clientId.replaceAll('-', '%2D');
    const authorization = `Basic ${Buffer.from(`${encodedId}:${client.clientSecret}`).toString('base64')}`;
    const response = await postToken({
      body: form({ grant_type: 'client_credentials' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8', authorization },
    });
    expect(response.statusCode).toBe(200);
  });
});

describe('POST /oauth/token: RFC 6749 §5.2 errors', () => {
  const authorization = () => basicAuth(client.clientId, client.clientSecret);
  const cases: [string, () => TokenRequest, number, string][] = [
    [
      'a missing grant_type',
      () => ({ body: '', headers: { ...FORM, authorization: authorization() } }),
      400,
      'invalid_request',
    ],
    [
      'an unknown parameter',
      () => ({ body: 'grant_type=client_credentials&foo=bar', headers: { ...FORM, authorization: authorization() } }),
      400,
      'invalid_request',
    ],
    [
      'a repeated parameter',
      () => ({
        body: 'grant_type=client_credentials&grant_type=client_credentials',
        headers: { ...FORM, authorization: authorization() },
      }),
      400,
      'invalid_request',
    ],
    [
      'a JSON body',
      () => ({
        body: JSON.stringify({ grant_type: 'client_credentials' }),
        headers: { 'content-type': 'application/json', authorization: authorization() },
      }),
      400,
      'invalid_request',
    ],
    [
      'no content type',
      () => ({ body: 'grant_type=client_credentials', headers: { authorization: authorization() } }),
      400,
      'invalid_request',
    ],
    [
      'both Basic and body credentials',
      () => ({
        body: form({
          grant_type: 'client_credentials',
          client_id: client.clientId,
          client_secret: client.clientSecret,
        }),
        headers: { ...FORM, authorization: authorization() },
      }),
      400,
      'invalid_request',
    ],
    [
      'Basic credentials with a different client_id in the body',
      () => ({
        body: form({ grant_type: 'client_credentials', client_id: 'someone-else' }),
        headers: { ...FORM, authorization: authorization() },
      }),
      400,
      'invalid_request',
    ],
    [
      'grant_type=password',
      () => ({ body: 'grant_type=password', headers: { ...FORM, authorization: authorization() } }),
      400,
      'unsupported_grant_type',
    ],
    [
      'grant_type=authorization_code',
      () => ({ body: 'grant_type=authorization_code', headers: { ...FORM, authorization: authorization() } }),
      400,
      'unsupported_grant_type',
    ],
    [
      'grant_type=refresh_token',
      () => ({ body: 'grant_type=refresh_token', headers: { ...FORM, authorization: authorization() } }),
      400,
      'unsupported_grant_type',
    ],
  ];

  it.each(cases)('answers %s', async (_name, request, status, error) => {
    expectOAuthError(await postToken(request()), status, error);
  });

  it('answers an oversized body in the OAuth shape', async () => {
    const response = await postToken({ body: form({ grant_type: 'client_credentials', scope: 'x'.repeat(70_000) }) });
    expect([400, 413]).toContain(response.statusCode);
    expect(response.json()).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
  });

  it.each([
    ['no credentials at all', () => ({ body: 'grant_type=client_credentials' })],
    [
      'a client_id without secret',
      () => ({ body: form({ grant_type: 'client_credentials', client_id: client.clientId }) }),
    ],
    [
      'an empty client_secret',
      () => ({ body: form({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: '' }) }),
    ],
    [
      'a Bearer Authorization header',
      () => ({ body: 'grant_type=client_credentials', headers: { ...FORM, authorization: 'Bearer abc' } }),
    ],
    [
      'Basic that is not base64',
      () => ({ body: 'grant_type=client_credentials', headers: { ...FORM, authorization: 'Basic !!!' } }),
    ],
    [
      'Basic without a colon',
      () => ({
        body: 'grant_type=client_credentials',
        headers: { ...FORM, authorization: `Basic ${Buffer.from(client.clientId).toString('base64')}` },
      }),
    ],
    [
      'Basic with an empty client id',
      () => ({
        body: 'grant_type=client_credentials',
        headers: { ...FORM, authorization: `Basic ${Buffer.from(`:${client.clientSecret}`).toString('base64')}` },
      }),
    ],
    [
      'Basic with bad percent-encoding',
      () => ({
        body: 'grant_type=client_credentials',
        headers: { ...FORM, authorization: `Basic ${Buffer.from('%zz:secret').toString('base64')}` },
      }),
    ],
  ] as [string, () => TokenRequest][])(
    'answers invalid_client with a Basic challenge for %s',
    async (_name, request) => {
      expectInvalidClient(await postToken(request()));
    },
  );

  it('answers unknown client, wrong secret and disabled client identically, auditing each reason', async () => {
    const disabled = await newClient(testApp, { name: 'Disabled' });
    await setClientStatus(testApp.db, disabled.clientId, 'disabled', 'vitest');
    const attempts = [
      { reason: 'unknown_client', ip: freshIp(), credentials: { clientId: 'no-such-client', clientSecret: 's' } },
      { reason: 'bad_secret', ip: freshIp(), credentials: { clientId: client.clientId, clientSecret: 'nope' } },
      { reason: 'disabled_client', ip: freshIp(), credentials: disabled },
    ];
    const responses = [];
    for (const { ip, credentials } of attempts) {
      responses.push(await withBasic(credentials, { grant_type: 'client_credentials' }, ip));
    }
    for (const response of responses) expectInvalidClient(response);
    const [first, ...others] = responses.map((response) => ({
      body: response.body,
      headers: stableHeaders(response.headers),
    }));
    for (const other of others) expect(other).toEqual(first);
    for (const { reason, ip, credentials } of attempts) {
      await testApp.app.tokenAudit.flush();
      expect(await testApp.db.tokenAudit.findMany({ where: { ip } })).toEqual([
        expect.objectContaining({
          clientId: credentials.clientId,
          result: 'failed',
          reason,
          grantType: 'client_credentials',
        }),
      ]);
    }
  });

  it('writes no audit row for a malformed request', async () => {
    await testApp.app.tokenAudit.flush();
    const before = await testApp.db.tokenAudit.count();
    await postToken({ body: '' });
    await postToken({ body: 'grant_type=password' });
    await postToken({
      body: 'grant_type=client_credentials&x=1',
      headers: { ...FORM, authorization: basicAuth(client.clientId, 'nope') },
    });
    await postToken({ body: '{}', headers: { 'content-type': 'application/json' } });
    await testApp.app.tokenAudit.flush();
    expect(await testApp.db.tokenAudit.count()).toBe(before);
  });

  it('answers 429 with Retry-After in the OAuth shape past RATE_LIMIT_CREDENTIALS_PER_MINUTE', async () => {
    const remoteAddress = freshIp();
    for (let i = 0; i < 3; i++) {
      const response = await withPost(
        { clientId: client.clientId, clientSecret: 'wrong' },
        { grant_type: 'client_credentials' },
        remoteAddress,
      );
      expect(response.statusCode).toBe(401);
    }
    const limited = await withPost(client, { grant_type: 'client_credentials' }, remoteAddress);
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toEqual({ error: 'temporarily_unavailable', error_description: expect.any(String) });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await withPost(client, { grant_type: 'client_credentials' })).statusCode).toBe(200);
  });

  it('accepts Basic credentials with the same client_id repeated in the body (identification only)', async () => {
    const response = await withBasic(client, { grant_type: 'client_credentials', client_id: client.clientId });
    expect(response.statusCode).toBe(200);
    expect(response.json().token_type).toBe('Bearer');
  });

  it('keeps error_description within the ASCII set RFC 6749 §5.2 allows, whatever the request', async () => {
    // A parameter name with a non-ASCII letter and a double quote, both outside %x20-21 / %x23-5B / %x5D-7E.
    const response = await postToken({ body: 'grant_type=client_credentials&%C3%A9%22=1' });
    expectOAuthError(response, 400, 'invalid_request');
    expect(response.json().error_description).toMatch(/^[\x20\x21\x23-\x5B\x5D-\x7E]*$/);
  });

  it('answers a client_id containing U+0000 with invalid_request, not 500', async () => {
    const response = await postToken({ body: 'grant_type=client_credentials&client_id=a%00b&client_secret=s' });
    expectOAuthError(response, 400, 'invalid_request');
  });
});
