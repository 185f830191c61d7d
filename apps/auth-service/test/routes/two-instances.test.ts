import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthServiceApp, buildApp } from '../../src/app.js';
import { loadAuthServiceConfig } from '../../src/config.js';
import { testEnv } from '../helpers.js';
import {
  bearer,
  createApplication,
  createUser,
  login,
  refresh,
  startApp,
  type TestApp,
  type TestUser,
  tempDataDir,
  validate,
} from './support.js';

describe('two instances of the service on one database', () => {
  let instanceA: TestApp;
  let appB: AuthServiceApp;
  /** Instance B as the helpers expect an app (same database, same keys, its own process state). */
  let instanceB: TestApp;
  let user: TestUser;
  let applicationId: string;
  beforeAll(async () => {
    const dataDir = tempDataDir();
    instanceA = await startApp({ DATA_DIR: dataDir });
    appB = await buildApp(
      loadAuthServiceConfig(
        testEnv(instanceA.config.DATABASE_URL, { DATA_DIR: dataDir, RATE_LIMIT_CREDENTIALS_PER_MINUTE: '100000' }),
      ),
    );
    instanceB = { ...instanceA, app: appB, db: appB.db };
    user = await createUser(instanceA.db);
    applicationId = (await createApplication(instanceA.db)).id;
  });
  afterAll(async () => {
    await appB?.close();
    await instanceA?.close();
  });

  it('publish the same keys, so either validates the tokens of the other', async () => {
    expect(appB).not.toBe(instanceA.app);
    const jwksA = await instanceA.app.inject({ method: 'GET', url: '/auth/.well-known/jwks.json' });
    const jwksB = await appB.inject({ method: 'GET', url: '/auth/.well-known/jwks.json' });
    expect(jwksB.body).toBe(jwksA.body);
    const session = await login(instanceA, user, applicationId);
    expect((await validate(instanceB, session.access_token)).json()).toMatchObject({
      valid: true,
      session_id: session.session_id,
    });
  });

  it('a logout on A is refused by validate on B at once', async () => {
    const session = await login(instanceA, user, applicationId);
    expect((await validate(instanceB, session.access_token)).statusCode).toBe(200);
    const logout = await instanceA.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: bearer(session.access_token),
    });
    expect(logout.statusCode).toBe(200);
    const started = performance.now();
    const refused = await validate(instanceB, session.access_token);
    expect(refused.statusCode).toBe(401);
    expect(refused.json().valid).toBe(false);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect((await refresh(instanceB, session.refresh_token)).statusCode).toBe(401);
  });

  it('a refresh token rotated on B is spent for A; closing the sessions on B ends them on A', async () => {
    const session = await login(instanceA, user, applicationId);
    const rotated = await refresh(instanceB, session.refresh_token);
    expect(rotated.statusCode).toBe(200);
    expect((await refresh(instanceA, session.refresh_token)).statusCode).toBe(401);
    expect((await refresh(instanceA, rotated.json().refresh_token)).statusCode).toBe(200);

    const caller = await login(instanceB, user, applicationId);
    const closed = await appB.inject({ method: 'DELETE', url: '/auth/sessions', headers: bearer(caller.access_token) });
    expect(closed.statusCode).toBe(200);
    expect((await validate(instanceA, rotated.json().access_token)).statusCode).toBe(401);
    expect((await validate(instanceA, caller.access_token)).statusCode).toBe(200);
  });

  it('of two concurrent refreshes with one token on A and B, exactly one succeeds', async () => {
    for (let round = 0; round < 3; round++) {
      const session = await login(instanceA, user, applicationId);
      const responses = await Promise.all([
        refresh(instanceA, session.refresh_token),
        refresh(instanceB, session.refresh_token),
      ]);
      expect(responses.map((response) => response.statusCode).sort()).toEqual([200, 401]);
    }
  });
});
