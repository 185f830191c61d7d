import { issuerOf } from '@mxp/service-kit';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateClientSecret, setClientStatus } from '../../src/services/clients.js';
import {
  atTime,
  auditRows,
  FORM,
  freshIp,
  isFastifyDefaultError,
  newClient,
  servedJwks,
  stableHeaders,
  startApp,
  type TestApp,
  type TestClient,
  untilNotified,
} from './support.js';

const URL_TOKEN = '/api/auth/token';
const VALIDATION_MESSAGE = 'Error en la validación de datos';
const CLIENT_ID_REQUIRED = "El campo 'clientId' es requerido";
const CLIENT_SECRET_REQUIRED = "El campo 'clientSecret' es requerido";
const INVALID_CREDENTIALS = { code: 401, status: 'error', message: 'Credenciales inválidas' };
const UTC_TO_SECOND = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

let testApp: TestApp;
let client: TestClient;

beforeAll(async () => {
  // A tiny credentials limit; every test but the rate-limit one uses addresses of its own (`freshIp`). The tests
  // share one client and fail it more often than the brute-force backoff allows (tested in backoff.test.ts).
  testApp = await startApp({ RATE_LIMIT_CREDENTIALS_PER_MINUTE: '3', BACKOFF_MAX_FAILURES: '1000' });
  client = await newClient(testApp, { name: 'Orders integrator', scopes: ['orders:read', 'orders:write'] });
});
afterAll(async () => {
  await testApp?.close();
});

function postToken(payload: unknown, options: { remoteAddress?: string; headers?: Record<string, string> } = {}) {
  return testApp.app.inject({
    method: 'POST',
    url: URL_TOKEN,
    remoteAddress: options.remoteAddress ?? freshIp(),
    ...(typeof payload === 'string'
      ? { payload, headers: { 'content-type': 'application/json', ...options.headers } }
      : { payload: payload as object, headers: options.headers }),
  });
}

/** A raw request body with an explicit content type (or none). */
function postRaw(body: string | undefined, contentType: string | undefined) {
  return testApp.app.inject({
    method: 'POST',
    url: URL_TOKEN,
    remoteAddress: freshIp(),
    ...(body === undefined ? {} : { payload: body }),
    headers: contentType === undefined ? {} : { 'content-type': contentType },
  });
}

function formatUtc(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

describe('POST /api/auth/token: success', () => {
  it('answers the specification envelope with a JWT and its UTC expiry', async () => {
    const before = Math.floor(Date.now() / 1000);
    const response = await postToken(client);
    const after = Math.floor(Date.now() / 1000);

    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers.pragma).toBe('no-cache');
    const body = response.json();
    expect(Object.keys(body)).toEqual(['code', 'status', 'message', 'data']);
    expect(body).toMatchObject({ code: 200, status: 'success', message: 'Token generado exitosamente' });
    expect(body.data).toEqual({
      token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
      expire_in: expect.stringMatching(UTC_TO_SECOND),
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'orders:read orders:write',
    });

    const { keys } = await servedJwks(testApp);
    const { payload, protectedHeader } = await jwtVerify(body.data.token, keys, {
      issuer: issuerOf(testApp.config),
      audience: 'maxpoint-api',
      typ: 'at+jwt',
      algorithms: ['ES256'],
    });
    expect(protectedHeader).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: testApp.app.signingKeys.signingKey.kid });
    expect(payload).toEqual({
      iss: 'http://127.0.0.1:3001',
      sub: client.clientId,
      client_id: client.clientId,
      aud: 'maxpoint-api',
      scope: 'orders:read orders:write',
      iat: expect.any(Number),
      exp: expect.any(Number),
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(payload.iat).toBeGreaterThanOrEqual(before);
    expect(payload.iat).toBeLessThanOrEqual(after);
    expect(payload.exp).toBe((payload.iat as number) + 3600);
    // `expire_in` is the token's own `exp`, in UTC, to the second.
    expect(body.data.expire_in).toBe(formatUtc(payload.exp as number));
  });

  it('verifies with the JWKS served under /api/auth as well', async () => {
    const token = (await postToken(client)).json().data.token;
    const { keys, jwks } = await servedJwks(testApp, '/api/auth/.well-known/jwks.json');
    expect(jwks.keys.map((key) => key.kid)).toEqual([decodeProtectedHeader(token).kid]);
    await expect(
      jwtVerify(token, keys, { issuer: 'http://127.0.0.1:3001', audience: 'maxpoint-api', typ: 'at+jwt' }),
    ).resolves.toBeTruthy();
  });

  it("uses the client's audience and lifetime, and omits scope when the client has none", async () => {
    const other = await newClient(testApp, { name: 'No scopes', audience: 'billing-api', tokenTtlSeconds: 120 });
    const response = await postToken(other);
    expect(response.statusCode).toBe(200);
    const { data } = response.json();
    expect(data).not.toHaveProperty('scope');
    expect(data.expires_in).toBe(120);
    const { keys } = await servedJwks(testApp);
    const { payload } = await jwtVerify(data.token, keys, {
      issuer: issuerOf(testApp.config),
      audience: 'billing-api',
      typ: 'at+jwt',
    });
    expect(payload).not.toHaveProperty('scope');
    expect(payload.aud).toBe('billing-api');
    expect(payload.exp).toBe((payload.iat as number) + 120);
    expect(data.expire_in).toBe(formatUtc(payload.exp as number));
  });

  it('issues a new token (new jti) on every request', async () => {
    const [first, second] = await Promise.all([postToken(client), postToken(client)]);
    const jti = (token: string) => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()).jti;
    expect(jti(first.json().data.token)).not.toBe(jti(second.json().data.token));
  });

  it('accepts the JSON body whatever the order of its keys and a charset parameter', async () => {
    const body = JSON.stringify({ clientSecret: client.clientSecret, clientId: client.clientId });
    const response = await postToken(body, { headers: { 'content-type': 'application/json; charset=utf-8' } });
    expect(response.statusCode).toBe(200);
  });

  it('records the issued token in the audit trail, never the secret', async () => {
    const remoteAddress = freshIp();
    const response = await postToken(client, { remoteAddress });
    const token = response.json().data.token as string;
    const jti = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()).jti;
    await testApp.app.tokenAudit.flush();
    const rows = await testApp.db.tokenAudit.findMany({ where: { ip: remoteAddress } });
    expect(rows).toEqual([
      expect.objectContaining({
        clientId: client.clientId,
        ip: remoteAddress,
        result: 'issued',
        reason: 'current_secret',
        tokenId: jti,
        grantType: 'api_token',
      }),
    ]);
    await testApp.app.tokenAudit.flush();
    expect(JSON.stringify(await auditRows(testApp.db))).not.toContain(client.clientSecret);
  });
});

describe('POST /api/auth/token: validation (400)', () => {
  const both = [CLIENT_ID_REQUIRED, CLIENT_SECRET_REQUIRED];
  const cases: [string, unknown, string[]][] = [
    ['an empty object', {}, both],
    ['no clientId', { clientSecret: 'secret' }, [CLIENT_ID_REQUIRED]],
    ['no clientSecret', { clientId: 'id' }, [CLIENT_SECRET_REQUIRED]],
    ['empty strings', { clientId: '', clientSecret: '' }, both],
    ['an empty clientSecret', { clientId: 'id', clientSecret: '' }, [CLIENT_SECRET_REQUIRED]],
    ['a numeric clientId', { clientId: 123, clientSecret: 'secret' }, [CLIENT_ID_REQUIRED]],
    ['null fields', { clientId: null, clientSecret: null }, both],
    ['an array and an object', { clientId: ['id'], clientSecret: { value: 's' } }, both],
    ['a boolean clientSecret', { clientId: 'id', clientSecret: true }, [CLIENT_SECRET_REQUIRED]],
    // clientId first whatever the order of the keys in the body
    ['clientSecret written first', '{"clientSecret": 5, "clientId": ""}', both],
    ['only a bad clientSecret written first', '{"clientSecret": "", "clientId": "id"}', [CLIENT_SECRET_REQUIRED]],
  ];

  it.each(cases)('answers %s with the exact specification body', async (_name, payload, errors) => {
    const response = await postToken(typeof payload === 'string' ? payload : JSON.stringify(payload));
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ code: 400, status: 'error', message: VALIDATION_MESSAGE, errors });
  });

  it('answers a body without any content at all as if both fields were missing', async () => {
    for (const response of [await postRaw(undefined, undefined), await postRaw('', 'application/json')]) {
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({ code: 400, status: 'error', message: VALIDATION_MESSAGE, errors: both });
    }
  });

  it('refuses unknown fields, naming them after the required ones', async () => {
    const response = await postToken({ ...client, role: 'admin' });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      code: 400,
      status: 'error',
      message: VALIDATION_MESSAGE,
      errors: ["El campo 'role' no está permitido"],
    });
    const mixed = await postToken('{"extra": 1, "clientSecret": "s"}');
    expect(mixed.json().errors).toEqual([CLIENT_ID_REQUIRED, "El campo 'extra' no está permitido"]);
  });

  it('refuses a clientId longer than any client id', async () => {
    const response = await postToken({ clientId: 'a'.repeat(201), clientSecret: 's' });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 400, message: VALIDATION_MESSAGE, errors: [expect.any(String)] });
    expect(response.json().errors[0]).toContain('clientId');
  });

  const malformed: [string, string | undefined, string | undefined, string][] = [
    ['invalid JSON', '{"clientId": "a", ', 'application/json', 'El cuerpo de la solicitud no es JSON válido'],
    [
      'a prototype-polluting key',
      '{"clientId":"a","clientSecret":"b","__proto__":{"x":1}}',
      'application/json',
      'El cuerpo de la solicitud no es JSON válido',
    ],
    ['an array', '[]', 'application/json', VALIDATION_MESSAGE],
    ['a string', '"clientId"', 'application/json', VALIDATION_MESSAGE],
    ['a number', '42', 'application/json', VALIDATION_MESSAGE],
    ['null', 'null', 'application/json', VALIDATION_MESSAGE],
    ['a form body', 'clientId=a&clientSecret=b', FORM['content-type'], ''],
    ['an XML body', '<clientId>a</clientId>', 'application/xml', ''],
    ['text/plain', '{"clientId":"a","clientSecret":"b"}', 'text/plain', ''],
  ];

  it.each(malformed)('answers %s with 400 in the envelope', async (_name, body, contentType, message) => {
    const response = await postRaw(body, contentType);
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    const json = response.json();
    expect(isFastifyDefaultError(json)).toBe(false);
    expect(json).toEqual({
      code: 400,
      status: 'error',
      message: message || expect.stringMatching(/\S/),
      ...(json.errors === undefined ? {} : { errors: [expect.stringMatching(/\S/)] }),
    });
  });

  it('answers a body over BODY_LIMIT_BYTES with 400 in the envelope', async () => {
    expect(testApp.config.BODY_LIMIT_BYTES).toBe(65_536);
    const body = JSON.stringify({ clientId: client.clientId, clientSecret: 'x'.repeat(65_536) });
    const response = await postRaw(body, 'application/json');
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      code: 400,
      status: 'error',
      message: 'El cuerpo de la solicitud es demasiado grande',
    });
  });

  it('writes no audit row for a refused request', async () => {
    await testApp.app.tokenAudit.flush();
    const before = await testApp.db.tokenAudit.count();
    await postToken({});
    await postToken({ clientId: client.clientId, clientSecret: '' });
    await postToken({ ...client, extra: true });
    await postRaw('{', 'application/json');
    await testApp.app.tokenAudit.flush();
    expect(await testApp.db.tokenAudit.count()).toBe(before);
  });
});

describe('POST /api/auth/token: invalid credentials (401)', () => {
  it('answers unknown client, wrong secret and disabled client identically, auditing each reason', async () => {
    const disabled = await newClient(testApp, { name: 'To disable' });
    await setClientStatus(testApp.db, disabled.clientId, 'disabled', 'vitest');
    const attempts = [
      { reason: 'unknown_client', ip: freshIp(), payload: { clientId: 'no-such-client', clientSecret: 'whatever' } },
      { reason: 'bad_secret', ip: freshIp(), payload: { clientId: client.clientId, clientSecret: 'wrong-secret' } },
      { reason: 'disabled_client', ip: freshIp(), payload: disabled },
    ];
    const responses = [];
    for (const attempt of attempts) responses.push(await postToken(attempt.payload, { remoteAddress: attempt.ip }));

    for (const response of responses) {
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual(INVALID_CREDENTIALS);
    }
    const [first, ...others] = responses.map((response) => ({
      body: response.body,
      headers: stableHeaders(response.headers),
    }));
    for (const other of others) expect(other).toEqual(first);

    for (const attempt of attempts) {
      await testApp.app.tokenAudit.flush();
      const rows = await testApp.db.tokenAudit.findMany({ where: { ip: attempt.ip } });
      expect(rows).toEqual([
        expect.objectContaining({
          clientId: attempt.payload.clientId,
          result: 'failed',
          reason: attempt.reason,
          tokenId: null,
          grantType: 'api_token',
        }),
      ]);
    }
    await testApp.app.tokenAudit.flush();
    const allRows = JSON.stringify(await auditRows(testApp.db));
    expect(allRows).not.toContain('wrong-secret');
    expect(allRows).not.toContain(disabled.clientSecret);
  });

  it("refuses another client's secret", async () => {
    const other = await newClient(testApp);
    const response = await postToken({ clientId: client.clientId, clientSecret: other.clientSecret });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toEqual(INVALID_CREDENTIALS);
  });

  it('compares the secret exactly (case, last character, surrounding spaces)', async () => {
    const secret = client.clientSecret;
    const variants = [
      secret.toUpperCase(),
      `${secret.slice(0, -1)}${secret.endsWith('0') ? '1' : '0'}`,
      ` ${secret}`,
      `${secret} `,
    ];
    for (const clientSecret of variants.filter((variant) => variant !== secret)) {
      const response = await postToken({ clientId: client.clientId, clientSecret });
      expect(response.statusCode).toBe(401);
    }
  });

  it('answers a clientId containing U+0000 with 400, not 500 (PostgreSQL text cannot hold NUL)', async () => {
    const response = await postToken({ clientId: 'client\u0000id', clientSecret: 'secret' });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      code: 400,
      status: 'error',
      message: 'Error en la validación de datos',
      errors: ['La solicitud contiene caracteres no permitidos (U+0000 o sustitutos UTF-16 sueltos)'],
    });
  });
});

describe('POST /api/auth/token: secret rotation and client status', () => {
  it('accepts the previous secret during the grace only, auditing which secret was used', async () => {
    const rotating = await newClient(testApp, { name: 'Rotating' });
    const rotatedAt = new Date();
    const { clientSecret: newSecret } = await rotateClientSecret(
      testApp.db,
      testApp.config.CLIENT_SECRET_PEPPER,
      rotating.clientId,
      600,
      'vitest',
      rotatedAt,
    );
    const oldIp = freshIp();
    const newIp = freshIp();
    expect((await postToken(rotating, { remoteAddress: oldIp })).statusCode).toBe(200);
    expect((await postToken({ ...rotating, clientSecret: newSecret }, { remoteAddress: newIp })).statusCode).toBe(200);
    await testApp.app.tokenAudit.flush();
    expect(await testApp.db.tokenAudit.findMany({ where: { ip: { in: [oldIp, newIp] } } })).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ip: oldIp, result: 'issued', reason: 'previous_secret' }),
        expect.objectContaining({ ip: newIp, result: 'issued', reason: 'current_secret' }),
      ]),
    );

    // One second before the grace ends the old secret still works; at its end it stops.
    await atTime(rotatedAt.getTime() + 599_000, async () => {
      expect((await postToken(rotating)).statusCode).toBe(200);
    });
    await atTime(rotatedAt.getTime() + 600_000, async () => {
      const refusedIp = freshIp();
      const refused = await postToken(rotating, { remoteAddress: refusedIp });
      expect(refused.statusCode).toBe(401);
      expect(refused.json()).toEqual(INVALID_CREDENTIALS);
      await testApp.app.tokenAudit.flush();
      expect(await testApp.db.tokenAudit.findMany({ where: { ip: refusedIp } })).toEqual([
        expect.objectContaining({ result: 'failed', reason: 'bad_secret' }),
      ]);
      expect((await postToken({ ...rotating, clientSecret: newSecret })).statusCode).toBe(200);
    });
  });

  it('stops the previous secret at once with a grace of 0', async () => {
    const rotating = await newClient(testApp, { name: 'Rotating now' });
    const { clientSecret: newSecret } = await rotateClientSecret(
      testApp.db,
      testApp.config.CLIENT_SECRET_PEPPER,
      rotating.clientId,
      0,
      'vitest',
    );
    expect((await postToken(rotating)).statusCode).toBe(401);
    expect((await postToken({ ...rotating, clientSecret: newSecret })).statusCode).toBe(200);
  });

  it('refuses a disabled client as soon as the change is notified, and accepts it again once enabled', async () => {
    const toggled = await newClient(testApp, { name: 'Toggled' });
    // Until it is served from the cache (a read that overlapped any notification is not cached: another try).
    for (let i = 0; i < 50 && testApp.app.clientCache.peek(toggled.clientId) === undefined; i++) {
      expect((await postToken(toggled)).statusCode).toBe(200);
    }
    expect(testApp.app.clientCache.peek(toggled.clientId)).toBeDefined();
    await setClientStatus(testApp.db, toggled.clientId, 'disabled', 'vitest');
    await untilNotified(testApp, toggled.clientId);
    const refused = await postToken(toggled);
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toEqual(INVALID_CREDENTIALS);
    await setClientStatus(testApp.db, toggled.clientId, 'active', 'vitest');
    expect((await postToken(toggled)).statusCode).toBe(200);
  });
});

describe('POST /api/auth/token: rate limit (RATE_LIMIT_CREDENTIALS_PER_MINUTE=3)', () => {
  it('answers 429 in the envelope with Retry-After once an address exceeds the limit', async () => {
    const remoteAddress = freshIp();
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      statuses.push(
        (await postToken({ clientId: client.clientId, clientSecret: 'wrong' }, { remoteAddress })).statusCode,
      );
    }
    expect(statuses).toEqual([401, 401, 401]);
    await testApp.app.tokenAudit.flush();
    const auditBefore = await testApp.db.tokenAudit.count();

    // Even the right credentials are refused now, without reaching the credential check.
    const limited = await postToken(client, { remoteAddress });
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toEqual({
      code: 429,
      status: 'error',
      message: 'Demasiadas solicitudes, intente más tarde',
    });
    const retryAfter = Number(limited.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    await testApp.app.tokenAudit.flush();
    expect(await testApp.db.tokenAudit.count()).toBe(auditBefore);

    // Other addresses are not affected.
    expect((await postToken(client)).statusCode).toBe(200);
  });

  it('ignores X-Forwarded-For without TRUST_PROXY: no new bucket, no forged address in the audit', async () => {
    const remoteAddress = freshIp();
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      const headers = { 'x-forwarded-for': `203.0.113.${i}` };
      statuses.push(
        (await postToken({ clientId: 'forger', clientSecret: 'x' }, { remoteAddress, headers })).statusCode,
      );
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    await testApp.app.tokenAudit.flush();
    const rows = await testApp.db.tokenAudit.findMany({ where: { clientId: 'forger' } });
    expect(rows.map((row) => row.ip)).toEqual([remoteAddress, remoteAddress, remoteAddress]);
  });
});
