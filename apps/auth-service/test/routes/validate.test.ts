import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  atTime,
  bearer,
  createApplication,
  createUser,
  decodeSegment,
  expectEnvelope,
  foreignKeySet,
  ISSUER,
  login,
  refresh,
  signAccessToken,
  startApp,
  type TestApp,
  type TestUser,
  validate,
  verifyWithServedJwks,
} from './support.js';

const INVALID_TOKEN_CHALLENGE = 'Bearer realm="mxp-auth", error="invalid_token"';

describe('POST /auth/token/validate', () => {
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

  function expectInvalid(response: Awaited<ReturnType<typeof validate>>, challenge = INVALID_TOKEN_CHALLENGE) {
    expectEnvelope(response, 401);
    expect(response.json()).toEqual({
      code: 401,
      status: 'error',
      message: expect.any(String),
      valid: false,
    });
    expect(response.headers['www-authenticate']).toBe(challenge);
  }

  // Changed behind the service's back (straight in the database), as another replica or an operator would: the
  // change reaches this replica's cache through PostgreSQL's notification, within milliseconds.
  it('refuses the tokens of a disabled application and of a disabled user within a second', async () => {
    const refusedWithin = async (token: string, ms: number) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const response = await validate(testApp, token);
        if (response.statusCode === 401 || Date.now() > deadline) return response;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    const ownApplication = (await createApplication(testApp.db)).id;
    const byApplication = await login(testApp, user, ownApplication);
    expect((await validate(testApp, byApplication.access_token)).statusCode).toBe(200);
    await testApp.db.application.update({ where: { id: ownApplication }, data: { status: 'disabled' } });
    expectInvalid(await refusedWithin(byApplication.access_token, 1_000));

    const other = await createUser(testApp.db);
    const byUser = await login(testApp, other, applicationId);
    expect((await validate(testApp, byUser.access_token)).statusCode).toBe(200);
    await testApp.db.user.update({ where: { id: other.id }, data: { status: 'disabled' } });
    expectInvalid(await refusedWithin(byUser.access_token, 1_000));
  });

  it('answers 200 {valid, user_id, application_id, session_id, exp} to a valid access token', async () => {
    const session = await login(testApp, user, applicationId);
    const response = await validate(testApp, session.access_token);
    expect(response.statusCode).toBe(200);
    const { exp } = decodeSegment<{ exp: number }>(session.access_token.split('.')[1]);
    expect(response.json()).toEqual({
      valid: true,
      user_id: user.id,
      application_id: applicationId,
      session_id: session.session_id,
      exp,
    });
    expect(exp * 1000).toBe(Date.parse(session.expires_at));
  });

  it('answers 401 {code, status, message, valid:false} without a token', async () => {
    const response = await testApp.app.inject({ method: 'POST', url: '/auth/token/validate' });
    expectInvalid(response, 'Bearer realm="mxp-auth"');
  });

  it('answers 401 valid:false to garbage', async () => {
    for (const token of ['garbage', 'a.b.c', 'eyJhbGciOiJFUzI1NiJ9.e30.AAAA', 'x'.repeat(9000)]) {
      const response = await validate(testApp, token);
      if (token.length > 8192) {
        // Over the Authorization header limit: no token is taken from the header at all.
        expectInvalid(response, 'Bearer realm="mxp-auth"');
      } else {
        expectInvalid(response);
      }
    }
  });

  it('answers 401 valid:false to an expired access token (frozen clock), while the session is still active', async () => {
    const start = Date.now();
    const session = await atTime(start, () => login(testApp, user, applicationId));
    expect((await atTime(start + 899_000, () => validate(testApp, session.access_token))).statusCode).toBe(200);
    expectInvalid(await atTime(start + 901_000, () => validate(testApp, session.access_token)));
    // The session itself is still active: its refresh token gives a new access token, valid at that time.
    const renewed = await atTime(start + 901_000, () => refresh(testApp, session.refresh_token));
    expect(renewed.statusCode).toBe(200);
    expect((await atTime(start + 902_000, () => validate(testApp, renewed.json().access_token))).statusCode).toBe(200);
  });

  it('answers 401 valid:false to a revoked access token (logout)', async () => {
    const session = await login(testApp, user, applicationId);
    expect((await validate(testApp, session.access_token)).statusCode).toBe(200);
    const logout = await testApp.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: bearer(session.access_token),
    });
    expect(logout.statusCode).toBe(200);
    expectInvalid(await validate(testApp, session.access_token));
  });

  it('answers 401 valid:false to a token signed by another key, or unsigned', async () => {
    const session = await login(testApp, user, applicationId);
    const claims = { sessionId: session.session_id, userId: user.id, applicationId };
    const foreign = await foreignKeySet(testApp.app.signingKeys.signingKey.kid);
    expectInvalid(await validate(testApp, await signAccessToken(foreign, claims)));
    const [header, payload] = session.access_token.split('.');
    expectInvalid(await validate(testApp, `${header}.${payload}.`));
    // The control: the same claims signed with the service's key are valid.
    expect((await validate(testApp, await signAccessToken(testApp.app.signingKeys, claims))).statusCode).toBe(200);
  });

  it('answers 401 valid:false to the refresh token', async () => {
    const session = await login(testApp, user, applicationId);
    expectInvalid(await validate(testApp, session.refresh_token));
  });
});

describe('the access token, verified independently against GET /auth/.well-known/jwks.json', () => {
  let testApp: TestApp;
  let user: TestUser;
  beforeAll(async () => {
    testApp = await startApp();
    user = await createUser(testApp.db);
  });
  afterAll(async () => {
    await testApp.close();
  });

  it('GET /auth/health answers {"status":"ok"}, without a token', async () => {
    const response = await testApp.app.inject({ method: 'GET', url: '/auth/health' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok' });
  });

  it('is an at+jwt with iss, aud = application_id, sub = user_id, sid = session_id, jti and a 900 s lifetime', async () => {
    const application = await createApplication(testApp.db);
    const session = await login(testApp, user, application.id);
    const { header, claims } = await verifyWithServedJwks(testApp, session.access_token);
    expect(header).toMatchObject({ typ: 'at+jwt', alg: 'ES256', kid: expect.any(String) });
    expect(claims).toMatchObject({
      iss: ISSUER,
      aud: application.id,
      sub: user.id,
      sid: session.session_id,
      jti: expect.any(String),
    });
    const { iat, exp } = claims as { iat: number; exp: number };
    expect(exp - iat).toBe(900);
    expect(Math.abs(iat * 1000 - Date.now())).toBeLessThan(5_000);
    expect(exp * 1000).toBe(Date.parse(session.expires_at));

    // A refreshed access token too, with a new jti.
    const refreshed = await refresh(testApp, session.refresh_token);
    const again = await verifyWithServedJwks(testApp, refreshed.json().access_token);
    expect(again.claims).toMatchObject({ iss: ISSUER, aud: application.id, sub: user.id, sid: session.session_id });
    expect(again.claims.jti).not.toBe(claims.jti);
  });

  it("follows the application's access token lifetime", async () => {
    const application = await createApplication(testApp.db, { accessTokenTtlSeconds: 120 });
    const session = await login(testApp, user, application.id);
    const { claims } = await verifyWithServedJwks(testApp, session.access_token);
    expect((claims.exp as number) - (claims.iat as number)).toBe(120);
    expect(session.expires_in).toBe(120);
  });

  it('the independent verification rejects a tampered token (the control of the test above)', async () => {
    const application = await createApplication(testApp.db);
    const session = await login(testApp, user, application.id);
    const [header, , signature] = session.access_token.split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'someone-else' })).toString('base64url');
    await expect(verifyWithServedJwks(testApp, `${header}.${forged}.${signature}`)).rejects.toThrow(/bad signature/);
  });

  it('gives each login its own jti and session', async () => {
    const application = await createApplication(testApp.db);
    const a = await login(testApp, user, application.id);
    const b = await login(testApp, user, application.id);
    const [ca, cb] = [a, b].map((s) => decodeSegment<{ jti: string; sid: string }>(s.access_token.split('.')[1]));
    expect(ca?.jti).not.toBe(cb?.jti);
    expect(ca?.sid).not.toBe(cb?.sid);
  });
});
