import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createUser,
  expectEnvelope,
  INVALID_CREDENTIALS,
  startApp,
  type TestApp,
  type TestUser,
  unique,
} from './support.js';

describe('POST /auth/verify', () => {
  let testApp: TestApp;
  let user: TestUser;
  let disabled: TestUser;
  beforeAll(async () => {
    testApp = await startApp();
    user = await createUser(testApp.db);
    disabled = await createUser(testApp.db, { status: 'disabled' });
  });
  afterAll(async () => {
    await testApp.close();
  });

  function verify(payload: unknown, headers: Record<string, string> = {}) {
    return testApp.app.inject({ method: 'POST', url: '/auth/verify', payload: payload as object, headers });
  }

  function attemptsOf(identifier: string) {
    return testApp.db.authAttempt.findMany({ where: { identifier }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  }

  it('answers 200 {user_id, status, validated_by} to a username and its password', async () => {
    const response = await verify({ username: user.username, password: user.password });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ user_id: user.id, status: 'success', validated_by: 'credentials' });
  });

  it('accepts the email instead of the username, in any case and with surrounding spaces', async () => {
    for (const identifier of [{ email: user.email }, { email: ` ${user.email.toUpperCase()} ` }]) {
      const response = await verify({ ...identifier, password: user.password });
      expect(response.statusCode, JSON.stringify(identifier)).toBe(200);
      expect(response.json().user_id).toBe(user.id);
    }
  });

  it('records an observed, successful credentials attempt, and creates no session, token or log', async () => {
    const response = await verify(
      { username: user.username, password: user.password },
      { 'user-agent': 'verify-ua/1' },
    );
    expect(response.statusCode).toBe(200);
    expect(response.json()).not.toHaveProperty('access_token');
    const [attempt] = (await attemptsOf(user.username)).filter((row) => row.userAgent === 'verify-ua/1');
    expect(attempt).toMatchObject({
      userId: user.id,
      identifier: user.username,
      method: 'credentials',
      source: 'observed',
      success: true,
      ip: '127.0.0.1',
      userAgent: 'verify-ua/1',
    });
    expect(await testApp.db.session.count({ where: { userId: user.id } })).toBe(0);
    expect(await testApp.db.refreshToken.count()).toBe(0);
    expect(await testApp.db.authLog.count({ where: { userId: user.id } })).toBe(0);
  });

  it('answers a wrong password, an unknown user and a disabled user with the identical 401', async () => {
    const unknown = unique('nobody');
    const cases = [
      { name: 'wrong password', payload: { username: user.username, password: `${user.password}x` } },
      { name: 'wrong password by email', payload: { email: user.email, password: 'nope' } },
      { name: 'unknown user', payload: { username: unknown, password: user.password } },
      { name: 'unknown email', payload: { email: `${unknown}@example.com`, password: user.password } },
      { name: 'disabled user, right password', payload: { username: disabled.username, password: disabled.password } },
      { name: 'disabled user, wrong password', payload: { username: disabled.username, password: 'nope' } },
    ];
    const bodies = new Set<string>();
    for (const { name, payload } of cases) {
      const response = await verify(payload);
      expect(response.statusCode, name).toBe(401);
      expectEnvelope(response, 401, INVALID_CREDENTIALS);
      bodies.add(response.body);
    }
    expect([...bodies]).toEqual([JSON.stringify({ code: 401, status: 'error', message: INVALID_CREDENTIALS })]);
  });

  it('records each failure with its reason, and the user when one is known', async () => {
    const unknown = unique('ghost');
    await verify({ username: unknown, password: 'whatever' }, { 'user-agent': 'fail-ua' });
    await verify({ username: disabled.username, password: disabled.password }, { 'user-agent': 'fail-ua' });
    await verify({ username: user.username, password: 'wrong' }, { 'user-agent': 'fail-ua' });

    expect(await attemptsOf(unknown)).toMatchObject([
      {
        userId: null,
        success: false,
        source: 'observed',
        method: 'credentials',
        ip: '127.0.0.1',
        userAgent: 'fail-ua',
      },
    ]);
    const [disabledAttempt] = (await attemptsOf(disabled.username)).filter(
      (row) => row.userAgent === 'fail-ua' && row.reason !== null,
    );
    expect(disabledAttempt).toMatchObject({ userId: disabled.id, success: false });
    expect(disabledAttempt?.reason).toMatch(/disabled/);
    const wrong = (await attemptsOf(user.username)).filter((row) => row.userAgent === 'fail-ua');
    expect(wrong).toMatchObject([{ userId: user.id, success: false }]);
    expect(wrong[0]?.reason).not.toBe(disabledAttempt?.reason);
  });

  it('answers 400 in the envelope to a body without an identifier, without a password, or with extra fields', async () => {
    const bad = [
      { password: user.password },
      { username: user.username },
      { username: user.username, password: '' },
      { username: '', password: user.password },
      { username: user.username, password: user.password, application_id: 'x' },
      { username: user.username, password: 12345 },
    ];
    for (const payload of bad) {
      const response = await verify(payload);
      expectEnvelope(response, 400);
      expect(response.json().errors?.length, JSON.stringify(payload)).toBeGreaterThan(0);
    }
  });
});
