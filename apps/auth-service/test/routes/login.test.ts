import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createApplication,
  createUser,
  decodeSegment,
  expectEnvelope,
  INVALID_CREDENTIALS,
  type LoginResult,
  startApp,
  type TestApp,
  type TestUser,
} from './support.js';

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

describe('POST /auth/login', () => {
  let testApp: TestApp;
  let user: TestUser;
  let applicationId: string;
  beforeAll(async () => {
    testApp = await startApp();
    user = await createUser(testApp.db);
    applicationId = (await createApplication(testApp.db)).id;
  });
  afterAll(async () => {
    await testApp.close();
  });

  function login(payload: Record<string, unknown>, headers: Record<string, string> = {}, remoteAddress?: string) {
    return testApp.app.inject({ method: 'POST', url: '/auth/login', payload, headers, remoteAddress });
  }

  const credentials = () => ({ username: user.username, password: user.password, application_id: applicationId });

  it('answers 200 with the tokens, the session and the access token expiry', async () => {
    const response = await login({ ...credentials(), device_info: { platform: 'web', os: 'Linux' } });
    expect(response.statusCode).toBe(200);
    const body = response.json<LoginResult>();
    expect(Object.keys(body).sort()).toEqual([
      'access_token',
      'expires_at',
      'expires_in',
      'refresh_token',
      'session_id',
      'token_type',
    ]);
    expect(body.token_type).toBe('Bearer');
    expect(body.expires_in).toBe(900);
    expect(body.expires_at).toMatch(ISO_UTC);
    const claims = decodeSegment<{ exp: number; iat: number; sid: string }>(body.access_token.split('.')[1]);
    expect(Date.parse(body.expires_at)).toBe(claims.exp * 1000);
    expect(claims.exp - claims.iat).toBe(body.expires_in);
    expect(claims.sid).toBe(body.session_id);
    expect(body.refresh_token).not.toBe(body.access_token);
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('opens a session holding the device info, the address and the user agent, with a hashed refresh token', async () => {
    const device = { platform: 'ios', model: 'iPhone', nested: { a: [1, 2] } };
    const response = await login(
      { ...credentials(), device_info: device },
      { 'user-agent': 'login-ua/2.0' },
      '10.1.2.3',
    );
    const body = response.json<LoginResult>();
    const session = await testApp.db.session.findUniqueOrThrow({
      where: { id: body.session_id },
      include: { refreshTokens: true },
    });
    expect(session).toMatchObject({
      userId: user.id,
      applicationId,
      deviceInfo: device,
      ip: '10.1.2.3',
      userAgent: 'login-ua/2.0',
      revokedAt: null,
      refreshCount: 0,
    });
    expect(session.absoluteExpiresAt.getTime() - session.createdAt.getTime()).toBe(43_200_000);
    expect(session.idleExpiresAt.getTime() - session.createdAt.getTime()).toBe(1_800_000);
    expect(session.refreshTokens).toHaveLength(1);
    expect(session.refreshTokens[0]?.tokenHash).toBe(
      createHash('sha256').update(body.refresh_token).digest('base64url'),
    );
    expect(session.refreshTokens[0]?.tokenHash).not.toBe(body.refresh_token);
  });

  it('logs in by email, and opens a new session at each login', async () => {
    const first = (await login({ email: user.email, password: user.password, application_id: applicationId })).json();
    const second = (await login(credentials())).json();
    expect(first.session_id).toBeTypeOf('string');
    expect(first.session_id).not.toBe(second.session_id);
  });

  it('records an AuthAttempt and an AuthLog "login"', async () => {
    const device = { app: 'attempt-log' };
    const response = await login({ ...credentials(), device_info: device }, { 'user-agent': 'audit-ua' }, '10.9.9.9');
    const { session_id } = response.json<LoginResult>();
    const attempts = await testApp.db.authAttempt.findMany({ where: { userAgent: 'audit-ua' } });
    expect(attempts).toMatchObject([
      {
        userId: user.id,
        identifier: user.username,
        applicationId,
        method: 'credentials',
        source: 'observed',
        success: true,
        ip: '10.9.9.9',
        deviceInfo: device,
      },
    ]);
    const logs = await testApp.db.authLog.findMany({ where: { sessionId: session_id } });
    expect(logs).toMatchObject([
      { userId: user.id, action: 'login', success: true, applicationId, deviceInfo: device, ip: '10.9.9.9' },
    ]);
  });

  it('answers a wrong password and an unknown user with the identical 401, opens no session, logs the failure', async () => {
    const before = await testApp.db.session.count();
    const wrong = await login({ ...credentials(), password: 'wrong' }, { 'user-agent': 'wrong-ua' });
    const unknown = await login({ ...credentials(), username: 'nobody-at-all' });
    for (const response of [wrong, unknown]) expectEnvelope(response, 401, INVALID_CREDENTIALS);
    expect(wrong.body).toBe(unknown.body);
    expect(await testApp.db.session.count()).toBe(before);
    // Written off the response path (timing must not reveal that the user exists): it lands shortly after.
    await vi.waitFor(async () => {
      const failed = await testApp.db.authLog.findMany({ where: { userAgent: 'wrong-ua' } });
      expect(failed).toMatchObject([{ userId: user.id, action: 'login', success: false, sessionId: null }]);
    });
    const attempt = await testApp.db.authAttempt.findFirstOrThrow({ where: { userAgent: 'wrong-ua' } });
    expect(attempt).toMatchObject({ success: false, applicationId, userId: user.id });
  });

  it('answers 400 when application_id is missing', async () => {
    const response = await login({ username: user.username, password: user.password });
    expectEnvelope(response, 400);
    expect(JSON.stringify(response.json().errors)).toMatch(/application_id/);
  });

  it('answers 400 with a clear message for an unknown application, and opens no session', async () => {
    const before = await testApp.db.session.count();
    const response = await login({ ...credentials(), application_id: '00000000-0000-7000-8000-000000000000' });
    expectEnvelope(response, 400);
    expect(response.json().message).toMatch(/application_id/);
    expect(response.json().message).toMatch(/no existe/);
    expect(await testApp.db.session.count()).toBe(before);
  });

  it('answers 403 for a disabled application, and opens no session', async () => {
    const disabled = await createApplication(testApp.db, { status: 'disabled' });
    const response = await login({ ...credentials(), application_id: disabled.id });
    expectEnvelope(response, 403);
    expect(await testApp.db.session.count({ where: { applicationId: disabled.id } })).toBe(0);
  });

  it('answers a disabled user with the same 401 as a wrong password', async () => {
    const disabled = await createUser(testApp.db, { status: 'disabled' });
    const response = await login({
      username: disabled.username,
      password: disabled.password,
      application_id: applicationId,
    });
    expectEnvelope(response, 401, INVALID_CREDENTIALS);
    expect(await testApp.db.session.count({ where: { userId: disabled.id } })).toBe(0);
  });

  it('accepts device_info objects up to 32 keys and 4096 bytes of JSON', async () => {
    const thirtyTwo = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`k${i}`, i]));
    // {"a":"…"} is 8 bytes plus the value.
    const exactly4096 = { a: 'x'.repeat(4096 - 8) };
    expect(Buffer.byteLength(JSON.stringify(exactly4096))).toBe(4096);
    for (const device_info of [{}, thirtyTwo, exactly4096]) {
      const response = await login({ ...credentials(), device_info });
      expect(response.statusCode, response.body).toBe(200);
      const session = await testApp.db.session.findUniqueOrThrow({ where: { id: response.json().session_id } });
      expect(session.deviceInfo).toEqual(device_info);
    }
  });

  it('answers 400, and opens no session, for a device_info that is not an object, has 33 keys or exceeds 4096 bytes', async () => {
    const before = await testApp.db.session.count();
    const bad: unknown[] = [
      'a string',
      42,
      true,
      null,
      ['an', 'array'],
      Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i])),
      { a: 'x'.repeat(4096 - 7) },
      // 2053 characters, but 4098 bytes of UTF-8.
      { a: 'é'.repeat(2045) },
      // A key longer than 64 characters.
      { ['k'.repeat(65)]: 1 },
    ];
    for (const device_info of bad) {
      const response = await login({ ...credentials(), device_info });
      expectEnvelope(response, 400);
      expect(JSON.stringify(response.json().errors), JSON.stringify(device_info).slice(0, 40)).toMatch(/device_info/);
    }
    expect(await testApp.db.session.count()).toBe(before);
  });

  it('answers 400, never a 500, to U+0000 in the identifier, the password or the device info', async () => {
    const before = await testApp.db.authAttempt.count();
    for (const payload of [
      { ...credentials(), username: `${user.username}\u0000` },
      { ...credentials(), password: `${user.password}\u0000` },
      { ...credentials(), device_info: { os: 'Linux\u0000' } },
      { ...credentials(), device_info: { 'o\u0000s': 'Linux' } },
    ]) {
      expectEnvelope(await login(payload), 400);
    }
    expect(await testApp.db.authAttempt.count()).toBe(before);
  });

  it('answers 400 to unknown fields and wrong types', async () => {
    for (const payload of [
      { ...credentials(), remember_me: true },
      { ...credentials(), application_id: 42 },
      { ...credentials(), username: ['a'] },
    ]) {
      expectEnvelope(await login(payload), 400);
    }
  });
});
