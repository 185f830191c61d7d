import type { FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerChallenge, callerOf } from '../../src/plugins/auth.js';
import {
  atTime,
  bearer,
  createApplication,
  createUser,
  expectEnvelope,
  foreignKeySet,
  ISSUER,
  type LoginResult,
  login,
  signAccessToken,
  startApp,
  type TestApp,
  type TestUser,
  unsignedToken,
} from '../routes/support.js';

const UNAUTHORIZED = 'Token de acceso inválido o ausente';
const NO_TOKEN_CHALLENGE = 'Bearer realm="mxp-auth"';
const INVALID_TOKEN_CHALLENGE = 'Bearer realm="mxp-auth", error="invalid_token"';

/** The five Bearer routes of the specification, and the two session-closing routes that share their rule. */
const BEARER_ROUTES = [
  { method: 'POST', url: '/auth/logout' },
  { method: 'GET', url: '/auth/session/me' },
  { method: 'GET', url: '/auth/sessions' },
  { method: 'GET', url: '/auth/logs' },
  { method: 'POST', url: '/auth/token/validate' },
  { method: 'DELETE', url: '/auth/sessions' },
  { method: 'DELETE', url: '/auth/sessions/00000000-0000-7000-8000-000000000000' },
] as const;

describe('Bearer authentication of the SSO routes', () => {
  let testApp: TestApp;
  let user: TestUser;
  let applicationId: string;
  let session: LoginResult;
  /** Authorization headers that must all be refused, each with whether a token was presented at all. */
  const refused: Array<{ name: string; authorization: string | undefined; tokenPresented: boolean }> = [];

  beforeAll(async () => {
    testApp = await startApp();
    user = await createUser(testApp.db);
    applicationId = (await createApplication(testApp.db)).id;
    session = await login(testApp, user, applicationId);
    const loggedOut = await login(testApp, user, applicationId);
    const logout = await testApp.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: bearer(loggedOut.access_token),
    });
    expect(logout.statusCode).toBe(200);
    // Logged in 1000 s ago: the access token (900 s) has expired, the session (idle 30 min) has not.
    const expired = await atTime(Date.now() - 1_000_000, () => login(testApp, user, applicationId));

    const claims = { sessionId: session.session_id, userId: user.id, applicationId };
    const ownKeys = testApp.app.signingKeys;
    const otherUser = await createUser(testApp.db);
    const [otherKey, wrongType, wrongIssuer, otherSubject] = await Promise.all([
      foreignKeySet(ownKeys.signingKey.kid).then((keys) => signAccessToken(keys, claims)),
      signAccessToken(ownKeys, claims, { typ: 'JWT' }),
      signAccessToken(ownKeys, claims, { issuer: 'http://127.0.0.1:3003' }),
      signAccessToken(ownKeys, { ...claims, userId: otherUser.id }),
    ]);
    const [header, payload] = session.access_token.split('.');
    const tamperedPayload = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()), sub: otherUser.id }),
    ).toString('base64url');
    const signature = session.access_token.split('.')[2];

    refused.push(
      { name: 'no Authorization header', authorization: undefined, tokenPresented: false },
      { name: 'an empty header', authorization: '', tokenPresented: false },
      { name: '"Bearer" without a token', authorization: 'Bearer', tokenPresented: false },
      { name: 'no space after Bearer', authorization: `Bearer${session.access_token}`, tokenPresented: false },
      {
        name: 'the Basic scheme',
        authorization: `Basic ${Buffer.from('a:b').toString('base64')}`,
        tokenPresented: false,
      },
      {
        name: 'another scheme with a valid token',
        authorization: `Token ${session.access_token}`,
        tokenPresented: false,
      },
      {
        name: 'two tokens',
        authorization: `Bearer ${session.access_token} ${session.access_token}`,
        tokenPresented: false,
      },
      { name: 'garbage', authorization: 'Bearer not-a-token', tokenPresented: true },
      { name: 'three garbage parts', authorization: 'Bearer abc.def.ghi', tokenPresented: true },
      { name: 'an expired access token', authorization: `Bearer ${expired.access_token}`, tokenPresented: true },
      {
        name: 'a signature by another key with the same kid',
        authorization: `Bearer ${otherKey}`,
        tokenPresented: true,
      },
      {
        name: 'a payload changed after signing',
        authorization: `Bearer ${header}.${tamperedPayload}.${signature}`,
        tokenPresented: true,
      },
      {
        name: 'an unsigned (alg none) token',
        authorization: `Bearer ${unsignedToken({ iss: ISSUER, aud: applicationId, sub: user.id, sid: session.session_id, jti: 'x', exp: Math.floor(Date.now() / 1000) + 600 })}`,
        tokenPresented: true,
      },
      { name: 'a typ other than at+jwt (own key)', authorization: `Bearer ${wrongType}`, tokenPresented: true },
      { name: 'another issuer (own key)', authorization: `Bearer ${wrongIssuer}`, tokenPresented: true },
      {
        name: "another user's sub on this session (own key)",
        authorization: `Bearer ${otherSubject}`,
        tokenPresented: true,
      },
      { name: 'the refresh token', authorization: `Bearer ${session.refresh_token}`, tokenPresented: true },
      {
        name: 'an access token of a logged-out session',
        authorization: `Bearer ${loggedOut.access_token}`,
        tokenPresented: true,
      },
    );
  });
  afterAll(async () => {
    await testApp.close();
  });

  it.each(BEARER_ROUTES)(
    '$method $url answers 401 in the envelope, with WWW-Authenticate, to every bad token',
    async (route) => {
      expect(refused.length).toBeGreaterThan(10);
      for (const { name, authorization, tokenPresented } of refused) {
        const response = await testApp.app.inject({
          ...route,
          headers: authorization === undefined ? {} : { authorization },
        });
        expect(response.statusCode, `${name}: ${response.body}`).toBe(401);
        expectEnvelope(response, 401, UNAUTHORIZED);
        const body = response.json<Record<string, unknown>>();
        if (route.url === '/auth/token/validate') expect(body.valid, name).toBe(false);
        else expect(body, name).not.toHaveProperty('valid');
        expect(response.headers['www-authenticate'], name).toBe(
          tokenPresented ? INVALID_TOKEN_CHALLENGE : NO_TOKEN_CHALLENGE,
        );
      }
    },
  );

  it('a refused logout revokes nothing', async () => {
    for (const { authorization } of refused) {
      await testApp.app.inject({
        method: 'POST',
        url: '/auth/logout',
        headers: authorization === undefined ? {} : { authorization },
      });
    }
    const row = await testApp.db.session.findUniqueOrThrow({ where: { id: session.session_id } });
    expect(row.revokedAt).toBeNull();
    const validate = await testApp.app.inject({
      method: 'POST',
      url: '/auth/token/validate',
      headers: bearer(session.access_token),
    });
    expect(validate.statusCode).toBe(200);
  });

  it('the routes without a token answer without one, even with a bad Authorization header', async () => {
    const other = await login(testApp, user, applicationId);
    const garbage = { authorization: 'Bearer garbage' };
    const verify = await testApp.app.inject({
      method: 'POST',
      url: '/auth/verify',
      headers: garbage,
      payload: { username: user.username, password: user.password },
    });
    expect(verify.statusCode).toBe(200);
    const loginResponse = await testApp.app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: garbage,
      payload: { username: user.username, password: user.password, application_id: applicationId },
    });
    expect(loginResponse.statusCode).toBe(200);
    const refresh = await testApp.app.inject({
      method: 'POST',
      url: '/auth/token/refresh',
      headers: garbage,
      payload: { refresh_token: other.refresh_token },
    });
    expect(refresh.statusCode).toBe(200);
    const attempts = await testApp.app.inject({
      method: 'POST',
      url: '/auth/attempts',
      headers: garbage,
      payload: { method: 'token', success: false },
    });
    expect(attempts.statusCode).toBe(201);
    for (const url of ['/auth/health', '/auth/.well-known/jwks.json']) {
      const response = await testApp.app.inject({ method: 'GET', url, headers: garbage });
      expect(response.statusCode, url).toBe(200);
    }
  });

  it('accepts the valid access token on every Bearer route (the control of the refusals above)', async () => {
    // Logout ends a session: it runs on a session of its own.
    const other = await login(testApp, user, applicationId);
    for (const route of BEARER_ROUTES) {
      const token = route.url === '/auth/logout' ? other.access_token : session.access_token;
      const response = await testApp.app.inject({ ...route, headers: bearer(token) });
      expect([200, 404], `${route.method} ${route.url}: ${response.body}`).toContain(response.statusCode);
      expect(response.headers['www-authenticate']).toBeUndefined();
    }
    // The scheme is case-insensitive (RFC 7235 §2.1).
    const lowerCase = await testApp.app.inject({
      method: 'GET',
      url: '/auth/session/me',
      headers: { authorization: `bearer ${session.access_token}` },
    });
    expect(lowerCase.statusCode).toBe(200);
  });

  it('the challenge carries an error code only when a token was presented (RFC 6750 §3)', () => {
    expect(bearerChallenge({ refused: 'missing' })).toBe(NO_TOKEN_CHALLENGE);
    for (const refused of ['invalid', 'expired', 'session_inactive'] as const) {
      expect(bearerChallenge({ refused })).toBe(INVALID_TOKEN_CHALLENGE);
    }
  });

  it('callerOf refuses a request that went through no requireSession', () => {
    expect(() => callerOf({ caller: null } as unknown as FastifyRequest)).toThrow(/requireSession/);
  });
});
