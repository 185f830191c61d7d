// Requests racing each other for one client: a burst of token requests leaves exactly one audit row per request,
// each issued row naming the token handed out; concurrent revocations of one token record it once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth, FORM, form, newClient, startApp, type TestApp } from '../routes/support.js';
import { UNLIMITED } from './support.js';

let testApp: TestApp;

beforeAll(async () => {
  testApp = await startApp(UNLIMITED);
});
afterAll(async () => {
  await testApp?.close();
});

const jtiOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')).jti as string;

describe('a burst of token requests for one client', () => {
  it('30 at once on both endpoints, a third with a wrong secret: audit rows exactly match the answers', async () => {
    const { clientId, clientSecret } = await newClient(testApp);
    const requests = Array.from({ length: 30 }, (_, i) => {
      const secret = i % 3 === 0 ? 'wrong-secret' : clientSecret;
      const viaOAuth = i % 2 === 1;
      const response = viaOAuth
        ? testApp.app.inject({
            method: 'POST',
            url: '/oauth/token',
            headers: { ...FORM, authorization: basicAuth(clientId, secret) },
            payload: form({ grant_type: 'client_credentials' }),
          })
        : testApp.app.inject({ method: 'POST', url: '/api/auth/token', payload: { clientId, clientSecret: secret } });
      return response.then((answer) => ({ viaOAuth, answer }));
    });
    const results = await Promise.all(requests);
    const statuses = results.map(({ answer }) => answer.statusCode);
    expect(statuses.filter((status) => status === 200)).toHaveLength(20);
    expect(statuses.filter((status) => status === 401)).toHaveLength(10);

    await testApp.app.tokenAudit.flush();
    const rows = await testApp.db.tokenAudit.findMany({ where: { clientId } });
    expect(rows).toHaveLength(30);
    const issued = rows.filter((row) => row.result === 'issued');
    const failed = rows.filter((row) => row.result === 'failed');
    expect(failed).toHaveLength(10);
    for (const row of failed) expect(row).toMatchObject({ reason: 'bad_secret', tokenId: null });
    const handedOut = results
      .filter(({ answer }) => answer.statusCode === 200)
      .map(({ viaOAuth, answer }) => jtiOf(viaOAuth ? answer.json().access_token : answer.json().data.token));
    expect(issued.map((row) => row.tokenId).sort()).toEqual([...handedOut].sort());
    expect(new Set(handedOut).size).toBe(20);
    for (const row of issued) expect(row.reason).toBe('current_secret');
    // Each endpoint audited under its own grant type, request for request.
    const count = (grantType: string, result: string) =>
      rows.filter((row) => row.grantType === grantType && row.result === result).length;
    const expected = (viaOAuth: boolean, status: number) =>
      results.filter((result) => result.viaOAuth === viaOAuth && result.answer.statusCode === status).length;
    expect(count('api_token', 'issued')).toBe(expected(false, 200));
    expect(count('api_token', 'failed')).toBe(expected(false, 401));
    expect(count('client_credentials', 'issued')).toBe(expected(true, 200));
    expect(count('client_credentials', 'failed')).toBe(expected(true, 401));

    const client = await testApp.db.apiClient.findUniqueOrThrow({ where: { id: clientId } });
    expect(client.lastUsedAt).toBeInstanceOf(Date);
  });

  it('30 revocations of one token at once: all 200, recorded once, and the token is refused after', async () => {
    const { clientId, clientSecret } = await newClient(testApp);
    const issued = await testApp.app.inject({
      method: 'POST',
      url: '/api/auth/token',
      payload: { clientId, clientSecret },
    });
    const token = issued.json().data.token as string;
    const responses = await Promise.all(
      Array.from({ length: 30 }, () =>
        testApp.app.inject({
          method: 'POST',
          url: '/oauth/revoke',
          headers: { ...FORM, authorization: basicAuth(clientId, clientSecret) },
          payload: form({ token }),
        }),
      ),
    );
    expect(
      responses.map((response) => response.statusCode),
      responses.map((response) => response.body).join('\n'),
    ).toEqual(Array<number>(30).fill(200));
    expect(await testApp.db.revokedToken.findMany({ where: { jti: jtiOf(token) } })).toHaveLength(1);
    const info = await testApp.app.inject({
      method: 'GET',
      url: '/api/auth/token/info',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(info.statusCode).toBe(401);
  });
});
