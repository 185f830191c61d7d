import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthServiceApp, buildApp } from '../../src/app.js';
import { loadAuthServiceConfig } from '../../src/config.js';
import { disableUser } from '../../src/services/users.js';
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

  /**
   * Validates on `instance` until refused; the milliseconds it took. Each replica caches sessions and hears of a
   * revocation elsewhere through the database's notifications: a few milliseconds normally, 1 s at most.
   */
  async function refusedWithin(instance: TestApp, token: string, limitMs = 1_000): Promise<number> {
    const started = performance.now();
    for (;;) {
      const response = await validate(instance, token);
      const elapsed = performance.now() - started;
      if (response.statusCode === 401) {
        expect(response.json().valid).toBe(false);
        return elapsed;
      }
      expect(response.statusCode).toBe(200);
      if (elapsed > limitMs) throw new Error(`still valid ${Math.round(elapsed)} ms after the revocation`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Validates twice on `instance`: the second answer must come from its session cache. */
  async function cachedOn(instance: TestApp, token: string): Promise<void> {
    expect((await validate(instance, token)).statusCode).toBe(200);
    const { hits } = instance.app.sessionCache.stats;
    expect((await validate(instance, token)).statusCode).toBe(200);
    expect(instance.app.sessionCache.stats.hits).toBe(hits + 1);
  }

  it('a logout on A is refused by validate on B within 1 s, B having the session cached', async () => {
    const session = await login(instanceA, user, applicationId);
    await cachedOn(instanceB, session.access_token);
    const logout = await instanceA.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: bearer(session.access_token),
    });
    expect(logout.statusCode).toBe(200);
    expect(await refusedWithin(instanceB, session.access_token)).toBeLessThan(1_000);
    expect((await refresh(instanceB, session.refresh_token)).statusCode).toBe(401);
  });

  it('the instance that revokes refuses at once, though it had the session cached', async () => {
    for (let round = 0; round < 5; round++) {
      const session = await login(instanceA, user, applicationId);
      await cachedOn(instanceA, session.access_token);
      const logout = await instanceA.app.inject({
        method: 'POST',
        url: '/auth/logout',
        headers: bearer(session.access_token),
      });
      expect(logout.statusCode).toBe(200);
      expect((await validate(instanceA, session.access_token)).statusCode).toBe(401);

      const caller = await login(instanceA, user, applicationId);
      const closedOne = await login(instanceA, user, applicationId);
      const closedOther = await login(instanceA, user, applicationId);
      await cachedOn(instanceA, closedOne.access_token);
      await cachedOn(instanceA, closedOther.access_token);
      const one = await instanceA.app.inject({
        method: 'DELETE',
        url: `/auth/sessions/${closedOne.session_id}`,
        headers: bearer(caller.access_token),
      });
      expect(one.statusCode).toBe(200);
      expect((await validate(instanceA, closedOne.access_token)).statusCode).toBe(401);
      const others = await instanceA.app.inject({
        method: 'DELETE',
        url: '/auth/sessions',
        headers: bearer(caller.access_token),
      });
      expect(others.statusCode).toBe(200);
      expect((await validate(instanceA, closedOther.access_token)).statusCode).toBe(401);
      expect((await validate(instanceA, caller.access_token)).statusCode).toBe(200);
    }
  });

  it('closing one session on A is refused on B within 1 s', async () => {
    const caller = await login(instanceA, user, applicationId);
    const closed = await login(instanceA, user, applicationId);
    await cachedOn(instanceB, closed.access_token);
    const response = await instanceA.app.inject({
      method: 'DELETE',
      url: `/auth/sessions/${closed.session_id}`,
      headers: bearer(caller.access_token),
    });
    expect(response.statusCode).toBe(200);
    expect(await refusedWithin(instanceB, closed.access_token)).toBeLessThan(1_000);
    expect((await validate(instanceB, caller.access_token)).statusCode).toBe(200);
  });

  it('disabling a user, or an application, elsewhere ends their cached sessions on both within 1 s', async () => {
    const disabledUser = await createUser(instanceA.db);
    const bystander = await login(instanceA, user, applicationId);
    const ofUser = await login(instanceA, disabledUser, applicationId);
    await cachedOn(instanceA, ofUser.access_token);
    await cachedOn(instanceB, ofUser.access_token);
    await cachedOn(instanceB, bystander.access_token);
    // As the admin CLI does, from another process: only the database's notifications tell the replicas.
    await disableUser(instanceA.db, disabledUser.username);
    expect(await refusedWithin(instanceA, ofUser.access_token)).toBeLessThan(1_000);
    expect(await refusedWithin(instanceB, ofUser.access_token)).toBeLessThan(1_000);
    await cachedOn(instanceB, bystander.access_token);

    // An application disabled directly in the database revokes nothing: its sessions end by its status alone.
    const application = await createApplication(instanceA.db);
    const ofApplication = await login(instanceA, user, application.id);
    await cachedOn(instanceB, ofApplication.access_token);
    await instanceA.db.application.update({ where: { id: application.id }, data: { status: 'disabled' } });
    expect(await refusedWithin(instanceB, ofApplication.access_token)).toBeLessThan(1_000);
    expect((await validate(instanceB, bystander.access_token)).statusCode).toBe(200);

    // A user disabled directly in the database, without revoking anything, is refused all the same.
    const direct = await createUser(instanceA.db);
    const ofDirect = await login(instanceA, direct, applicationId);
    await cachedOn(instanceB, ofDirect.access_token);
    await instanceA.db.user.update({ where: { id: direct.id }, data: { status: 'disabled' } });
    expect(await refusedWithin(instanceB, ofDirect.access_token)).toBeLessThan(1_000);
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
