// POST /auth/login's fast path as the route uses it: the application from the replica's cache (kept exact by the
// database's change notifications), and a user disabled or whose password changes while argon2 runs, which is refused
// as a wrong password with nothing of the login written.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as passwords from '../../src/services/passwords.js';
import {
  createApplication,
  createUser,
  expectEnvelope,
  INVALID_CREDENTIALS,
  startApp,
  type TestApp,
  type TestUser,
} from './support.js';

// Lets a test change the user while their password is being verified (between the check and the session).
vi.mock('../../src/services/passwords.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/services/passwords.js')>();
  return { ...actual, verifyPassword: vi.fn(actual.verifyPassword) };
});

describe('POST /auth/login (fast path)', () => {
  let testApp: TestApp;
  let applicationId: string;
  beforeAll(async () => {
    testApp = await startApp();
    applicationId = (await createApplication(testApp.db)).id;
    // Logins may read the cache only once its change feed vouches for it.
    await vi.waitFor(() => expect(testApp.app.sessionCache.isCurrent()).toBe(true), { timeout: 5_000 });
  });
  afterAll(async () => {
    await testApp.close();
  });

  function login(user: TestUser, application = applicationId, password = user.password) {
    return testApp.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: user.username, password, application_id: application },
    });
  }

  /** What a login writes for a user (or would have). */
  async function trace(user: TestUser) {
    return {
      sessions: await testApp.db.session.count({ where: { userId: user.id } }),
      attempts: await testApp.db.authAttempt.findMany({ where: { userId: user.id }, select: { reason: true } }),
      logs: await testApp.db.authLog.count({ where: { userId: user.id } }),
      backoff: await testApp.db.credentialBackoff.findUnique({ where: { key: `user:${user.id}` } }),
    };
  }

  describe('a user changed while the password is verified is refused like a wrong password, nothing written', () => {
    const changes: Array<[string, { status: 'disabled' } | { passwordChangedAt: Date }]> = [
      ['disabled', { status: 'disabled' }],
      ['password changed', { passwordChangedAt: new Date(Date.now() + 60_000) }],
    ];
    for (const [name, data] of changes) {
      it(name, async () => {
        const user = await createUser(testApp.db);
        const wrong = await login(user, applicationId, 'wrong-password');
        // The failed login's log entry is written off the response path: let it land first.
        await vi.waitFor(async () => expect((await trace(user)).logs).toBe(1));
        const before = await trace(user);
        expect(before.backoff).toMatchObject({ failures: 1 });
        const actual = await vi.importActual<typeof passwords>('../../src/services/passwords.js');
        vi.mocked(passwords.verifyPassword).mockImplementationOnce(async (hash, password) => {
          await testApp.db.user.update({ where: { id: user.id }, data });
          return actual.verifyPassword(hash, password);
        });
        const refused = await login(user);
        expectEnvelope(refused, 401, INVALID_CREDENTIALS);
        expect(refused.body).toBe(wrong.body);
        // No session, attempt or log entry of it; its reservation stays counted, as for any refused sign-in.
        const after = await trace(user);
        expect(after).toEqual({
          ...before,
          backoff: { ...before.backoff, failures: 2, lastFailureAt: expect.any(Date) },
        });
      });
    }
  });

  it('reads an application once, then from the cache', async () => {
    const application = await createApplication(testApp.db);
    const user = await createUser(testApp.db);
    const loads = testApp.app.applicationCache.stats.loads;
    for (let i = 0; i < 3; i++) expect((await login(user, application.id)).statusCode).toBe(200);
    expect(testApp.app.applicationCache.stats.loads).toBe(loads + 1);
  });

  // Changed behind the service's back (straight in the database), as an operator would: the change reaches the
  // cache through PostgreSQL's notification, within milliseconds, and the login is refused as before, with its attempt.
  it('refuses an application disabled in the database after it was cached (403 within a second), then not', async () => {
    const application = await createApplication(testApp.db);
    const user = await createUser(testApp.db);
    expect((await login(user, application.id)).statusCode).toBe(200);
    await testApp.db.application.update({ where: { id: application.id }, data: { status: 'disabled' } });
    const deadline = Date.now() + 1_000;
    let response = await login(user, application.id);
    while (response.statusCode === 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      response = await login(user, application.id);
    }
    expectEnvelope(response, 403);
    const refusedAttempts = await testApp.db.authAttempt.findMany({
      where: { applicationId: application.id, success: false },
    });
    expect(refusedAttempts).toMatchObject([{ reason: 'application_disabled', userId: null }]);

    await testApp.db.application.update({ where: { id: application.id }, data: { status: 'active' } });
    await vi.waitFor(async () => expect((await login(user, application.id)).statusCode).toBe(200), { timeout: 1_000 });
  });

  it('refuses an application deleted in the database after it was cached (400)', async () => {
    const application = await createApplication(testApp.db);
    const user = await createUser(testApp.db);
    expect((await login(user, application.id)).statusCode).toBe(200);
    await testApp.db.session.deleteMany({ where: { applicationId: application.id } });
    await testApp.db.application.delete({ where: { id: application.id } });
    await vi.waitFor(async () => expectEnvelope(await login(user, application.id), 400), { timeout: 1_000 });
  });
});
