import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoAccount } from '../../src/dev/seed-demo.js';
import { startTestApp } from '../helpers.js';

describe('the life of a session (smoke)', () => {
  let testApp: Awaited<ReturnType<typeof startTestApp>>;
  let demo: Awaited<ReturnType<typeof ensureDemoAccount>>;
  beforeAll(async () => {
    testApp = await startTestApp();
    demo = await ensureDemoAccount(testApp.db, { memoryKib: 1024, iterations: 1, parallelism: 1 });
  });
  afterAll(async () => {
    await testApp.close();
  });

  it('login → validate → me → sessions → refresh → logout → validate 401 → refresh 401', async () => {
    const inject = testApp.app.inject.bind(testApp.app);
    const login = await inject({
      method: 'POST',
      url: '/auth/login',
      payload: {
        username: demo.username,
        password: demo.password,
        application_id: demo.applicationId,
        device_info: { os: 'linux' },
      },
    });
    expect(login.statusCode).toBe(200);
    const { access_token, refresh_token, session_id } = login.json();
    const bearer = { authorization: `Bearer ${access_token}` };

    const validate = await inject({ method: 'POST', url: '/auth/token/validate', headers: bearer });
    expect(validate.json()).toMatchObject({ valid: true, application_id: demo.applicationId, session_id });
    const me = await inject({ method: 'GET', url: '/auth/session/me', headers: bearer });
    expect(me.json()).toMatchObject({ session_id, device_info: { os: 'linux' } });
    const sessions = await inject({ method: 'GET', url: '/auth/sessions', headers: bearer });
    expect(sessions.json()).toMatchObject([{ session_id, current: true }]);

    const refresh = await inject({ method: 'POST', url: '/auth/token/refresh', payload: { refresh_token } });
    expect(refresh.statusCode).toBe(200);
    expect(refresh.json().refresh_token).toBeTypeOf('string');

    const logout = await inject({ method: 'POST', url: '/auth/logout', headers: bearer });
    expect(logout.json()).toEqual({ message: 'Session and tokens revoked successfully' });
    const after = await inject({ method: 'POST', url: '/auth/token/validate', headers: bearer });
    expect(after.statusCode).toBe(401);
    expect(after.json()).toMatchObject({ code: 401, status: 'error', valid: false });
    const refreshAfter = await inject({
      method: 'POST',
      url: '/auth/token/refresh',
      payload: { refresh_token: refresh.json().refresh_token },
    });
    expect(refreshAfter.statusCode).toBe(401);
    const logs = await inject({ method: 'GET', url: '/auth/logs', headers: bearer });
    expect(logs.statusCode).toBe(401);
  });
});
