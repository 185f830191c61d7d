import type { PrismaClient } from '@mxp/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApplicationView, AuthAdminError, createApplication } from '../../src/services/applications.js';
import { verifyPassword } from '../../src/services/passwords.js';
import {
  createUser,
  disableUser,
  enableUser,
  generatePassword,
  listSessions,
  RECENT_SESSIONS_DAYS,
  revokeSession,
  setPassword,
  userUniqueViolation,
} from '../../src/services/users.js';
import { startTestApp } from '../helpers.js';

const cheap = { memoryKib: 1024, iterations: 1, parallelism: 1 };
const DAY = 86_400_000;

describe('users and their sessions', () => {
  let testApp: Awaited<ReturnType<typeof startTestApp>>;
  let db: PrismaClient;
  let application: ApplicationView;
  let counter = 0;
  beforeAll(async () => {
    testApp = await startTestApp();
    db = testApp.db;
    application = await createApplication(db, { name: 'Portal' }, 'setup');
  });
  afterAll(async () => {
    await testApp.close();
  });

  /** A fresh username, so tests do not depend on each other. */
  function uniqueName(prefix: string) {
    counter += 1;
    return `${prefix}${counter}`;
  }

  async function newUser(password = 'initial-password') {
    return createUser(db, cheap, { username: uniqueName('user'), password }, 'setup');
  }

  /** A session row with one refresh token, as openSession would write it (times adjustable). */
  async function insertSession(
    userId: string,
    times: { createdAt?: Date; idleExpiresAt?: Date; absoluteExpiresAt?: Date; revokedAt?: Date; reason?: string } = {},
  ) {
    const now = Date.now();
    const session = await db.session.create({
      data: {
        userId,
        applicationId: application.applicationId,
        createdAt: times.createdAt ?? new Date(now),
        lastSeenAt: times.createdAt ?? new Date(now),
        idleExpiresAt: times.idleExpiresAt ?? new Date(now + 1_800_000),
        absoluteExpiresAt: times.absoluteExpiresAt ?? new Date(now + 43_200_000),
        revokedAt: times.revokedAt ?? null,
        revokedReason: times.reason ?? null,
      },
    });
    await db.refreshToken.create({
      data: {
        sessionId: session.id,
        familyId: session.id,
        tokenHash: `hash-${session.id}`,
        expiresAt: session.absoluteExpiresAt,
      },
    });
    return session;
  }

  async function login(identifier: string, password: string) {
    return testApp.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: identifier, password, application_id: application.applicationId },
    });
  }

  async function validate(accessToken: string) {
    const response = await testApp.app.inject({
      method: 'POST',
      url: '/auth/token/validate',
      headers: { authorization: `Bearer ${accessToken}` },
    });
    return response.statusCode;
  }

  async function auditOf(targetId: string) {
    return db.authAdminAudit.findMany({ where: { targetId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  }

  async function expectAdminError(promise: Promise<unknown>, code: string, message?: string) {
    const error = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(AuthAdminError);
    expect(error).toMatchObject({ code });
    if (message !== undefined) expect((error as Error).message).toContain(message);
  }

  describe('createUser', () => {
    it('stores a normalized user with an argon2id hash and audits it without the password', async () => {
      const password = 'correct horse battery';
      const user = await createUser(
        db,
        cheap,
        { username: '  Ann.Lee_1@corp-x ', email: ' Ann.Lee@Example.COM ', password },
        'root',
      );
      expect(user).toEqual({
        userId: expect.any(String),
        username: 'ann.lee_1@corp-x',
        email: 'ann.lee@example.com',
        status: 'active',
        createdAt: expect.any(Date),
        passwordChangedAt: expect.any(Date),
      });
      const stored = await db.user.findUniqueOrThrow({ where: { id: user.userId } });
      expect(stored.passwordHash).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
      expect(await verifyPassword(stored.passwordHash, password)).toBe(true);

      const audit = await auditOf(user.userId);
      expect(audit).toEqual([
        expect.objectContaining({
          action: 'user.create',
          targetType: 'user',
          actor: 'root',
          details: { username: 'ann.lee_1@corp-x', email: 'ann.lee@example.com' },
        }),
      ]);
      expect(JSON.stringify(audit)).not.toContain(password);
      expect(JSON.stringify(audit)).not.toContain(stored.passwordHash);

      // The user can sign in with the username or the email, in any case.
      expect((await login('ANN.LEE_1@corp-x', password)).statusCode).toBe(200);
      expect((await login('ann.lee@example.com', password)).statusCode).toBe(200);
    });

    it('accepts a user without email and a 100-character username', async () => {
      const username = `${'a'.repeat(96)}${uniqueName('')}`.slice(-100);
      const user = await createUser(db, cheap, { username, password: '12345678' });
      expect(user).toMatchObject({ username, email: null });
    });

    it.each([
      ['', 'username must have 1 to 100 characters'],
      ['   ', 'username must have 1 to 100 characters'],
      ['x'.repeat(101), 'username must have 1 to 100 characters'],
      ['john doe', 'among a-z, 0-9'],
      ['jöhn', 'among a-z, 0-9'],
      ['a/b', 'among a-z, 0-9'],
      ['a+b', 'among a-z, 0-9'],
    ])('refuses the username %j', async (username, message) => {
      await expectAdminError(createUser(db, cheap, { username, password: 'long enough' }), 'INVALID_INPUT', message);
    });

    it.each([
      '',
      'not-an-email',
      'a@b',
      'a b@example.com',
      'a@@example.com',
      'a@example..com',
      '@example.com',
      `${'x'.repeat(250)}@example.com`,
    ])('refuses the email %j', async (email) => {
      await expectAdminError(
        createUser(db, cheap, { username: uniqueName('mail'), email, password: 'long enough' }),
        'INVALID_INPUT',
        'email must look like name@example.com',
      );
    });

    it('counts password characters, not bytes or UTF-16 units: 8 to 1024', async () => {
      for (const password of ['1234567', '😀'.repeat(7), 'é'.repeat(7), 'x'.repeat(1025), '😀'.repeat(1025)]) {
        await expectAdminError(
          createUser(db, cheap, { username: uniqueName('pw'), password }),
          'INVALID_INPUT',
          `password must have 8 to 1024 characters (got ${[...password].length})`,
        );
      }
      for (const password of ['12345678', '😀'.repeat(8), '😀'.repeat(1024), 'x'.repeat(1024), ' spaces '.padEnd(9)]) {
        const user = await createUser(db, cheap, { username: uniqueName('pw'), password });
        const stored = await db.user.findUniqueOrThrow({ where: { id: user.userId } });
        expect(await verifyPassword(stored.passwordHash, password)).toBe(true);
      }
    });

    it('never puts the password in an error message', async () => {
      const error = await createUser(db, cheap, { username: 'x y', password: 'secret-pw' }).catch((e: unknown) => e);
      expect((error as Error).message).not.toContain('secret-pw');
      const short = await createUser(db, cheap, { username: uniqueName('s'), password: 'tiny' }).catch((e) => e);
      expect((short as Error).message).not.toContain('tiny');
    });

    it('refuses a taken username or email (case-insensitively) and the other user’s email as a username', async () => {
      const owner = await createUser(db, cheap, {
        username: uniqueName('owner'),
        email: 'owner@example.com',
        password: 'owner-password',
      });
      const before = await db.user.count();
      await expectAdminError(
        createUser(db, cheap, { username: owner.username.toUpperCase(), password: 'other-password' }),
        'USERNAME_TAKEN',
        `username ${owner.username} is already taken`,
      );
      await expectAdminError(
        createUser(db, cheap, { username: uniqueName('x'), email: 'OWNER@example.com', password: 'other-password' }),
        'EMAIL_TAKEN',
        `email owner@example.com is already used by user ${owner.username}`,
      );
      // Login accepts either, so a username may not be another user's email, nor an email another's username.
      await expectAdminError(
        createUser(db, cheap, { username: 'owner@example.com', password: 'other-password' }),
        'USERNAME_TAKEN',
        `username owner@example.com is already the email of user ${owner.username}`,
      );
      const atName = await createUser(db, cheap, { username: 'boss@corp.example', password: 'other-password' });
      await expectAdminError(
        createUser(db, cheap, { username: uniqueName('z'), email: 'Boss@Corp.example', password: 'other-password' }),
        'EMAIL_TAKEN',
        'email boss@corp.example is already the username of another user',
      );
      expect(await db.user.count()).toBe(before + 1);
      expect(await auditOf(atName.userId)).toHaveLength(1);
    });

    it('gives one of two concurrent creations of a username USERNAME_TAKEN', async () => {
      const username = uniqueName('race');
      const results = await Promise.allSettled([
        createUser(db, cheap, { username, password: 'first-password' }),
        createUser(db, cheap, { username, password: 'second-password' }),
      ]);
      expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
      const rejected = results.find((result) => result.status === 'rejected');
      expect(rejected?.reason).toMatchObject({ code: 'USERNAME_TAKEN' });
      expect(await db.user.count({ where: { username } })).toBe(1);
    });

    it("maps Prisma's unique violations (P2002) to USERNAME_TAKEN / EMAIL_TAKEN", async () => {
      const taken = await createUser(db, cheap, {
        username: uniqueName('p'),
        email: `${uniqueName('p')}@example.com`,
        password: 'some-password',
      });
      const duplicate = (data: { username: string; email?: string }) =>
        db.user.create({ data: { ...data, passwordHash: 'x' } }).catch((error: unknown) => error);
      const usernameError = await duplicate({ username: taken.username });
      const emailError = await duplicate({ username: uniqueName('q'), email: taken.email as string });
      expect(userUniqueViolation(usernameError, taken.username, null)).toMatchObject({ code: 'USERNAME_TAKEN' });
      expect(userUniqueViolation(usernameError, taken.username, 'new@example.com')).toMatchObject({
        code: 'USERNAME_TAKEN',
      });
      expect(userUniqueViolation(emailError, 'q', taken.email)).toMatchObject({
        code: 'EMAIL_TAKEN',
        message: `email ${taken.email} is already used by another user`,
      });
      // Prisma versions that report the columns in `meta.target`.
      expect(userUniqueViolation({ code: 'P2002', meta: { target: ['email'] } }, 'u', 'e@x.io')).toMatchObject({
        code: 'EMAIL_TAKEN',
      });
      expect(userUniqueViolation(new Error('other'), 'u', null)).toBeUndefined();
      expect(userUniqueViolation({ code: 'P2025' }, 'u', null)).toBeUndefined();
    });
  });

  describe('disableUser and enableUser', () => {
    it('disables the user, revokes all their sessions and refresh tokens, and audits it', async () => {
      const password = 'disable-me-pw';
      const user = await newUser(password);
      const other = await newUser();
      const loggedIn = await login(user.username, password);
      expect(loggedIn.statusCode).toBe(200);
      const { access_token, refresh_token, session_id } = loggedIn.json();
      const direct = await insertSession(user.userId);
      const expiredButOpen = await insertSession(user.userId, {
        createdAt: new Date(Date.now() - 2 * DAY),
        idleExpiresAt: new Date(Date.now() - DAY),
        absoluteExpiresAt: new Date(Date.now() - DAY),
      });
      const earlier = new Date(Date.now() - 60_000);
      const alreadyClosed = await insertSession(user.userId, { revokedAt: earlier, reason: 'logout' });
      const othersSession = await insertSession(other.userId);

      const now = new Date();
      const change = await disableUser(db, user.username.toUpperCase(), 'root', now);
      expect(change).toEqual({ user: { ...user, status: 'disabled' }, sessionsRevoked: 3 });

      for (const id of [session_id as string, direct.id, expiredButOpen.id]) {
        const session = await db.session.findUniqueOrThrow({ where: { id } });
        expect(session).toMatchObject({ revokedAt: now, revokedReason: 'user_disabled' });
        expect(await db.refreshToken.count({ where: { sessionId: id, revokedAt: null } })).toBe(0);
      }
      expect(await db.session.findUniqueOrThrow({ where: { id: alreadyClosed.id } })).toMatchObject({
        revokedAt: earlier,
        revokedReason: 'logout',
      });
      expect(await db.session.findUniqueOrThrow({ where: { id: othersSession.id } })).toMatchObject({
        revokedAt: null,
      });
      expect((await db.user.findUniqueOrThrow({ where: { id: user.userId } })).status).toBe('disabled');

      // Tokens stop working and sign-in is refused.
      expect(await validate(access_token)).toBe(401);
      const refresh = await testApp.app.inject({
        method: 'POST',
        url: '/auth/token/refresh',
        payload: { refresh_token },
      });
      expect(refresh.statusCode).toBe(401);
      expect((await login(user.username, password)).statusCode).toBe(401);

      expect(await auditOf(user.userId)).toEqual([
        expect.objectContaining({ action: 'user.create' }),
        expect.objectContaining({
          action: 'user.disable',
          actor: 'root',
          details: { username: user.username, previousStatus: 'active', sessionsRevoked: 3 },
        }),
      ]);

      // Enabled again: sign-in works, the revoked sessions stay revoked.
      expect(await enableUser(db, user.username, 'root')).toEqual({ ...user, status: 'active' });
      expect((await login(user.username, password)).statusCode).toBe(200);
      expect(await db.session.findUniqueOrThrow({ where: { id: direct.id } })).toMatchObject({
        revokedReason: 'user_disabled',
      });
      expect((await auditOf(user.userId)).at(-1)).toMatchObject({
        action: 'user.enable',
        actor: 'root',
        details: { username: user.username, previousStatus: 'disabled' },
      });
    });

    it('disabling twice is harmless and still audited', async () => {
      const user = await newUser();
      await disableUser(db, user.username);
      const again = await disableUser(db, user.username, 'root');
      expect(again.sessionsRevoked).toBe(0);
      expect((await auditOf(user.userId)).at(-1)).toMatchObject({
        action: 'user.disable',
        details: { previousStatus: 'disabled', sessionsRevoked: 0 },
      });
    });

    it('reports an unknown user as USER_NOT_FOUND', async () => {
      await expectAdminError(disableUser(db, 'ghost'), 'USER_NOT_FOUND', 'no user named ghost');
      await expectAdminError(enableUser(db, ' Ghost '), 'USER_NOT_FOUND', 'no user named ghost');
      await expectAdminError(disableUser(db, ''), 'USER_NOT_FOUND');
    });
  });

  describe('setPassword', () => {
    it('replaces the hash, sets passwordChangedAt, revokes every session and audits without the password', async () => {
      const user = await newUser('old-password');
      const loggedIn = (await login(user.username, 'old-password')).json();
      const direct = await insertSession(user.userId);
      const oldHash = (await db.user.findUniqueOrThrow({ where: { id: user.userId } })).passwordHash;

      const now = new Date(Date.now() + 1000);
      const change = await setPassword(db, cheap, user.username, 'new-password', 'root', now);
      expect(change).toEqual({ user: { ...user, passwordChangedAt: now }, sessionsRevoked: 2 });

      const stored = await db.user.findUniqueOrThrow({ where: { id: user.userId } });
      expect(stored.passwordChangedAt).toEqual(now);
      expect(stored.passwordHash).not.toBe(oldHash);
      expect(await verifyPassword(stored.passwordHash, 'new-password')).toBe(true);
      expect(await verifyPassword(stored.passwordHash, 'old-password')).toBe(false);
      for (const id of [loggedIn.session_id as string, direct.id]) {
        expect(await db.session.findUniqueOrThrow({ where: { id } })).toMatchObject({
          revokedAt: now,
          revokedReason: 'password_changed',
        });
      }
      expect(await validate(loggedIn.access_token)).toBe(401);
      expect((await login(user.username, 'old-password')).statusCode).toBe(401);
      expect((await login(user.username, 'new-password')).statusCode).toBe(200);

      const audit = (await auditOf(user.userId)).at(-1);
      expect(audit).toMatchObject({
        action: 'user.set_password',
        actor: 'root',
        details: { username: user.username, sessionsRevoked: 2 },
      });
      for (const hidden of ['new-password', 'old-password', stored.passwordHash, oldHash]) {
        expect(JSON.stringify(audit)).not.toContain(hidden);
      }
    });

    it('refuses a too short or too long password and an unknown user, changing nothing', async () => {
      const user = await newUser('keep-this-one');
      const session = await insertSession(user.userId);
      await expectAdminError(setPassword(db, cheap, user.username, 'short'), 'INVALID_INPUT', 'got 5');
      await expectAdminError(setPassword(db, cheap, user.username, 'y'.repeat(1025)), 'INVALID_INPUT');
      await expectAdminError(setPassword(db, cheap, 'ghost', 'long enough'), 'USER_NOT_FOUND');
      const stored = await db.user.findUniqueOrThrow({ where: { id: user.userId } });
      expect(await verifyPassword(stored.passwordHash, 'keep-this-one')).toBe(true);
      expect((await db.session.findUniqueOrThrow({ where: { id: session.id } })).revokedAt).toBeNull();
      expect(await auditOf(user.userId)).toHaveLength(1);
    });

    it('keeps a disabled user disabled', async () => {
      const user = await newUser();
      await disableUser(db, user.username);
      const change = await setPassword(db, cheap, user.username, 'another-password');
      expect(change.user.status).toBe('disabled');
    });
  });

  describe('listSessions and revokeSession', () => {
    it('lists active and recently ended sessions, newest first, without tokens', async () => {
      const user = await newUser();
      const now = Date.now();
      const at = (offset: number) => new Date(now + offset);
      const old = await insertSession(user.userId, {
        createdAt: at(-40 * DAY),
        revokedAt: at(-(RECENT_SESSIONS_DAYS + 1) * DAY),
        reason: 'logout',
      });
      const oldExpired = await insertSession(user.userId, {
        createdAt: at(-40 * DAY),
        idleExpiresAt: at(-35 * DAY),
        absoluteExpiresAt: at(-31 * DAY),
      });
      const expired = await insertSession(user.userId, {
        createdAt: at(-3 * DAY),
        idleExpiresAt: at(-2 * DAY),
        absoluteExpiresAt: at(-1 * DAY),
      });
      const revoked = await insertSession(user.userId, {
        createdAt: at(-2 * DAY),
        revokedAt: at(-DAY),
        reason: 'closed_by_user',
      });
      const active = await insertSession(user.userId, { createdAt: at(-1000) });
      await insertSession((await newUser()).userId);

      const { user: listed, sessions } = await listSessions(db, user.username.toUpperCase(), new Date(now));
      expect(listed).toEqual(user);
      expect(sessions.map((session) => [session.sessionId, session.state])).toEqual([
        [active.id, 'active'],
        [revoked.id, 'revoked'],
        [expired.id, 'expired'],
      ]);
      expect(sessions.map((session) => session.sessionId)).not.toContain(old.id);
      expect(sessions.map((session) => session.sessionId)).not.toContain(oldExpired.id);
      expect(sessions[0]).toMatchObject({
        userId: user.userId,
        username: user.username,
        applicationId: application.applicationId,
        applicationName: 'Portal',
        revokedAt: null,
        refreshCount: 0,
      });
      expect(sessions[1]).toMatchObject({ revokedReason: 'closed_by_user' });
      expect(JSON.stringify(sessions)).not.toContain('hash-');
    });

    it('lists nothing for a user without sessions and USER_NOT_FOUND for an unknown one', async () => {
      const user = await newUser();
      expect((await listSessions(db, user.username)).sessions).toEqual([]);
      await expectAdminError(listSessions(db, 'ghost'), 'USER_NOT_FOUND', 'no user named ghost');
    });

    it('revokes one session (reason admin) with its refresh tokens, once', async () => {
      const user = await newUser('revoke-pw-1');
      const loggedIn = (await login(user.username, 'revoke-pw-1')).json();
      const other = await insertSession(user.userId);
      const now = new Date();
      const result = await revokeSession(db, loggedIn.session_id, 'root', now);
      expect(result).toMatchObject({
        revoked: true,
        session: { sessionId: loggedIn.session_id, state: 'revoked', revokedAt: now, revokedReason: 'admin' },
      });
      expect(await db.session.findUniqueOrThrow({ where: { id: loggedIn.session_id } })).toMatchObject({
        revokedAt: now,
        revokedReason: 'admin',
      });
      expect(await db.refreshToken.count({ where: { sessionId: loggedIn.session_id, revokedAt: null } })).toBe(0);
      expect(await validate(loggedIn.access_token)).toBe(401);
      expect((await db.session.findUniqueOrThrow({ where: { id: other.id } })).revokedAt).toBeNull();
      expect(await auditOf(loggedIn.session_id)).toEqual([
        expect.objectContaining({
          action: 'session.revoke',
          targetType: 'session',
          actor: 'root',
          details: {
            userId: user.userId,
            username: user.username,
            applicationId: application.applicationId,
            wasActive: true,
          },
        }),
      ]);

      // Again: nothing changes, nothing is audited.
      const again = await revokeSession(db, loggedIn.session_id, 'root', new Date(now.getTime() + 5000));
      expect(again).toMatchObject({ revoked: false, session: { revokedAt: now, revokedReason: 'admin' } });
      expect(await auditOf(loggedIn.session_id)).toHaveLength(1);
    });

    it('reports an unknown session as SESSION_NOT_FOUND', async () => {
      await expectAdminError(revokeSession(db, 'nope'), 'SESSION_NOT_FOUND', 'no session with id nope');
    });
  });

  it('generates random passwords of at least 16 characters', () => {
    const passwords = new Set(Array.from({ length: 20 }, () => generatePassword()));
    expect(passwords.size).toBe(20);
    for (const password of passwords) expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
  });
});
