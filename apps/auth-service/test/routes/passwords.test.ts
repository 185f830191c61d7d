import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadAuthServiceConfig } from '../../src/config.js';
import { testEnv } from '../helpers.js';
import {
  CHEAP_HASH,
  createApplication,
  createUser,
  expectEnvelope,
  INVALID_CREDENTIALS,
  startApp,
  type TestApp,
  tempDataDir,
} from './support.js';

/** The `t=` of an argon2 PHC string. */
function iterationsOf(hash: string): number {
  const match = /^\$argon2id\$v=\d+\$[^$]*\bt=(\d+)\b[^$]*\$/.exec(hash);
  if (!match?.[1]) throw new Error(`not an argon2 hash: ${hash.slice(0, 20)}`);
  return Number(match[1]);
}

describe('passwords at /auth/login and /auth/verify', () => {
  let testApp: TestApp;
  let applicationId: string;
  const dataDir = tempDataDir();
  beforeAll(async () => {
    testApp = await startApp({ DATA_DIR: dataDir });
    applicationId = (await createApplication(testApp.db)).id;
  });
  afterAll(async () => {
    await testApp.close();
  });

  function login(username: string, password: string, app = testApp.app) {
    return app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username, password, application_id: applicationId },
    });
  }

  function verify(username: string, password: string) {
    return testApp.app.inject({ method: 'POST', url: '/auth/verify', payload: { username, password } });
  }

  it('a 129-character password works exactly: neither its 128-character prefix nor one more character do', async () => {
    const password = `${'P'.repeat(64)}${'q'.repeat(64)}!`;
    expect(password).toHaveLength(129);
    const user = await createUser(testApp.db, { password });
    expect((await login(user.username, password)).statusCode).toBe(200);
    expect((await verify(user.username, password)).statusCode).toBe(200);
    expectEnvelope(await login(user.username, password.slice(0, 128)), 401, INVALID_CREDENTIALS);
    expectEnvelope(await login(user.username, `${password}!`), 401, INVALID_CREDENTIALS);
  });

  it('a long Unicode password works exactly (no normalization, trimming or truncation)', async () => {
    const password = ' contraseña-пароль-密码-🔐-Ωμέγα '.repeat(8);
    expect([...password].length).toBeGreaterThan(200);
    const user = await createUser(testApp.db, { password });
    expect((await login(user.username, password)).statusCode).toBe(200);
    expect((await verify(user.username, password)).statusCode).toBe(200);
    for (const variant of [
      password.normalize('NFD'),
      password.trim(),
      password.slice(0, -1),
      password.replace('🔐', '🔒'),
    ]) {
      expect(variant).not.toBe(password);
      expectEnvelope(await login(user.username, variant), 401, INVALID_CREDENTIALS);
    }
  });

  it('a 1024-character password is accepted; 1025 characters is a 400 checked before any credentials', async () => {
    const password = 'ß'.repeat(1024);
    const user = await createUser(testApp.db, { password });
    expect((await login(user.username, password)).statusCode).toBe(200);

    const before = await testApp.db.authAttempt.count();
    for (const tooLong of [`${password}ß`, 'x'.repeat(20_000)]) {
      const started = performance.now();
      const responses = [await login(user.username, tooLong), await verify(user.username, tooLong)];
      for (const response of responses) {
        expectEnvelope(response, 400);
        expect(JSON.stringify(response.json().errors)).toMatch(/password/);
      }
      expect(performance.now() - started).toBeLessThan(2_000);
    }
    // Refused by the schema: no credentials were checked, so no attempt was recorded.
    expect(await testApp.db.authAttempt.count()).toBe(before);
  });

  it('answers an unknown user and a wrong password identically', async () => {
    const user = await createUser(testApp.db);
    const wrong = await login(user.username, 'not-the-password');
    const unknown = await login('no-such-user-here', user.password);
    expect(unknown.statusCode).toBe(wrong.statusCode);
    expect(unknown.body).toBe(wrong.body);
    expect(unknown.headers['content-type']).toBe(wrong.headers['content-type']);
  });

  it('a hash with the current parameters is left as it is at login', async () => {
    const user = await createUser(testApp.db);
    const before = await testApp.db.user.findUniqueOrThrow({ where: { id: user.id } });
    expect((await login(user.username, user.password)).statusCode).toBe(200);
    const after = await testApp.db.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(after.passwordHash).toBe(before.passwordHash);
  });

  it('a hash with older parameters is upgraded at the next successful login, and only then', async () => {
    const user = await createUser(testApp.db, { params: CHEAP_HASH });
    const original = (await testApp.db.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash;
    expect(iterationsOf(original)).toBe(1);

    // A second instance on the same database, configured with more iterations.
    const stronger = await buildApp(
      loadAuthServiceConfig(
        testEnv(testApp.config.DATABASE_URL, {
          DATA_DIR: dataDir,
          PASSWORD_HASH_ITERATIONS: '2',
          RATE_LIMIT_CREDENTIALS_PER_MINUTE: '100000',
        }),
      ),
    );
    try {
      expectEnvelope(await login(user.username, 'wrong', stronger), 401, INVALID_CREDENTIALS);
      const afterFailure = (await testApp.db.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash;
      expect(afterFailure).toBe(original);

      expect((await login(user.username, user.password, stronger)).statusCode).toBe(200);
      const upgraded = (await testApp.db.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash;
      expect(upgraded).not.toBe(original);
      expect(iterationsOf(upgraded)).toBe(2);
      expect(upgraded).toMatch(/^\$argon2id\$/);

      // The same password still works, and the upgraded hash is not rewritten at the next login.
      expect((await login(user.username, user.password, stronger)).statusCode).toBe(200);
      const later = (await testApp.db.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash;
      expect(later).toBe(upgraded);
      // An instance still on the older parameters verifies the upgraded hash (argon2 reads them from the hash).
      expect((await verify(user.username, user.password)).statusCode).toBe(200);
    } finally {
      await stronger.close();
    }
  });
});
