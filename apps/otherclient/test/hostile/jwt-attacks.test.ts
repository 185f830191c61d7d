// JWT attacks against every otherclient endpoint that takes a token: GET /api/auth/token/info (401 in the envelope),
// POST /oauth/introspect (200 {active: false}, asked by the client the token claims to belong to) and
// POST /oauth/revoke (200 and nothing revoked). Forged tokens copy the claims of a genuine token, jti included, and
// are signed with the service's own private key whenever the attack allows, so the defect under test is the only one.
import { generateSigningKey } from '@mxp/jwt-core';
import { issuerOf } from '@mxp/service-kit';
import {
  b64json,
  decodeParts,
  keyConfusionSecrets,
  reencodedSignatures,
  signHs256,
  signWith,
} from '@mxp/testing/forge-tokens';
import { UNLIMITED } from '@mxp/testing/hostile-requests';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth, FORM, form, newClient, startApp, type TestApp, type TestClient } from '../routes/support.js';
import { type AuthServiceSibling, startAuthService } from './sibling.js';

const UNAUTHORIZED = { code: 401, status: 'error', message: 'Token de acceso inválido o ausente' };

let testApp: TestApp;
let owner: TestClient;
/** The genuine token whose claims (jti included) every forgery copies; it must stay valid throughout. */
let genuine: string;
let header: Record<string, unknown>;
let claims: Record<string, unknown>;
/** An auth-service with its own keys, and one sharing this service's signing key and issuer. */
let authOwnKeys: AuthServiceSibling;
let authSharedKeys: AuthServiceSibling;

beforeAll(async () => {
  // Configured keys (not the development ones), so that the sibling can be given the very same key.
  const jwks = JSON.stringify({ keys: [await generateSigningKey('ES256')] });
  testApp = await startApp({ ...UNLIMITED, JWT_PRIVATE_JWKS: jwks });
  expect(testApp.app.signingKeys.signingKey.alg).toBe('ES256');
  owner = await newClient(testApp, { name: 'Owner', scopes: ['orders:read'] });
  genuine = await issue();
  ({ header, claims } = decodeParts(genuine));
  authOwnKeys = await startAuthService(testApp.config.DATABASE_URL);
  authSharedKeys = await startAuthService(testApp.config.DATABASE_URL, {
    JWT_PRIVATE_JWKS: jwks,
    JWT_ISSUER: issuerOf(testApp.config),
  });
}, 30_000);
afterAll(async () => {
  await authOwnKeys?.close();
  await authSharedKeys?.close();
  await testApp?.close();
});

async function issue(): Promise<string> {
  const response = await testApp.app.inject({ method: 'POST', url: '/api/auth/token', payload: owner });
  expect(response.statusCode).toBe(200);
  return response.json().data.token;
}

/** Signed with the service's own private key: a token as only the service itself could make it. */
function signOwn(headerChanges: Record<string, unknown>, claimChanges: Record<string, unknown> = {}): Promise<string> {
  return signWith(
    testApp.app.signingKeys.signingKey.key,
    { ...header, ...headerChanges },
    { ...claims, ...claimChanges },
  );
}

function withoutMember(record: Record<string, unknown>, name: string): Record<string, unknown> {
  const { [name]: _removed, ...rest } = record;
  return rest;
}

// ─── the endpoints, each returning what is wrong with its answer to a token (nothing when refused properly) ───

function bodyOf(response: LightMyRequestResponse): unknown {
  try {
    return response.json();
  } catch {
    return response.body;
  }
}

async function revokedCount(): Promise<number> {
  return testApp.db.revokedToken.count();
}

async function genuineStillActive(): Promise<boolean> {
  const response = await testApp.app.inject({
    method: 'GET',
    url: '/api/auth/token/info',
    headers: { authorization: `Bearer ${genuine}` },
  });
  return response.statusCode === 200;
}

type EndpointCheck = (token: string) => Promise<string | undefined>;

const ENDPOINTS: Array<[string, EndpointCheck]> = [
  [
    'GET /api/auth/token/info',
    async (token) => {
      const response = await testApp.app.inject({
        method: 'GET',
        url: '/api/auth/token/info',
        headers: { authorization: `Bearer ${token}` },
      });
      const body = bodyOf(response);
      return response.statusCode === 401 && JSON.stringify(body) === JSON.stringify(UNAUTHORIZED)
        ? undefined
        : `${response.statusCode} ${JSON.stringify(body)}`;
    },
  ],
  [
    'POST /oauth/introspect',
    async (token) => {
      const response = await testApp.app.inject({
        method: 'POST',
        url: '/oauth/introspect',
        headers: { ...FORM, authorization: basicAuth(owner.clientId, owner.clientSecret) },
        payload: form({ token }),
      });
      const body = bodyOf(response);
      return response.statusCode === 200 && JSON.stringify(body) === '{"active":false}'
        ? undefined
        : `${response.statusCode} ${JSON.stringify(body)}`;
    },
  ],
  [
    'POST /oauth/revoke',
    async (token) => {
      const before = await revokedCount();
      const response = await testApp.app.inject({
        method: 'POST',
        url: '/oauth/revoke',
        headers: { ...FORM, authorization: basicAuth(owner.clientId, owner.clientSecret) },
        payload: form({ token }),
      });
      const revoked = (await revokedCount()) - before;
      if (response.statusCode !== 200 || response.body !== '') return `${response.statusCode} ${response.body}`;
      if (revoked !== 0) return `${revoked} token(s) revoked`;
      if (!(await genuineStillActive())) return 'the genuine token (same jti) was revoked';
      return undefined;
    },
  ],
];

/** Sends each token to every endpoint and expects every one of them refused. */
async function expectRefusedEverywhere(tokens: Array<[string, string]>): Promise<void> {
  expect(tokens.length).toBeGreaterThan(0);
  const accepted: string[] = [];
  for (const [label, token] of tokens) {
    for (const [endpoint, check] of ENDPOINTS) {
      const problem = await check(token);
      if (problem) accepted.push(`${endpoint} ← ${label}: ${problem}`);
    }
  }
  expect(accepted).toEqual([]);
}

const now = () => Math.floor(Date.now() / 1000);

describe('JWT attacks on GET /api/auth/token/info, POST /oauth/introspect and POST /oauth/revoke', () => {
  it('control: the genuine token is accepted by token/info and introspection, and a fresh one can be revoked', async () => {
    expect(await genuineStillActive()).toBe(true);
    const introspection = await testApp.app.inject({
      method: 'POST',
      url: '/oauth/introspect',
      headers: { ...FORM, authorization: basicAuth(owner.clientId, owner.clientSecret) },
      payload: form({ token: genuine }),
    });
    expect(introspection.json()).toMatchObject({ active: true, jti: claims.jti });
    // Each check reports a token that is accepted (so a forgery that got through would be seen).
    const [info, introspect, revoke] = ENDPOINTS;
    expect(await info?.[1](genuine)).toMatch(/^200 /);
    expect(await introspect?.[1](genuine)).toMatch(/^200 \{"active":true/);
    const before = await revokedCount();
    expect(await revoke?.[1](await issue())).toBe('1 token(s) revoked');
    expect(await revokedCount()).toBe(before + 1);
  });

  it('alg: none (in any case, with no signature or the genuine one)', async () => {
    const [, , signature] = genuine.split('.');
    const tokens: Array<[string, string]> = [];
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      const unsigned = `${b64json({ ...header, alg })}.${b64json(claims)}`;
      tokens.push([`alg ${alg}, empty signature`, `${unsigned}.`]);
      tokens.push([`alg ${alg}, genuine signature`, `${unsigned}.${signature}`]);
    }
    await expectRefusedEverywhere(tokens);
  });

  it('HS256 signed with the public key (key confusion): PEM, DER, JWK JSON, raw point, with the real kid', async () => {
    const kid = testApp.app.signingKeys.signingKey.kid;
    const publicJwk = testApp.app.signingKeys.verificationKeys.get(kid)?.publicJwk;
    expect(publicJwk).toBeDefined();
    const tokens = keyConfusionSecrets({ ...publicJwk }).map(([name, secret]): [string, string] => [
      `HS256 with the ${name}`,
      signHs256({ ...header, alg: 'HS256' }, claims, secret),
    ]);
    await expectRefusedEverywhere(tokens);
  });

  it('unknown kid (signed with the real key, or with a foreign key under a made-up kid)', async () => {
    const foreign = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    await expectRefusedEverywhere([
      ['real key, kid "unknown"', await signOwn({ kid: 'unknown' })],
      ['real key, kid of another length', await signOwn({ kid: `${String(header.kid)}x` })],
      ['foreign key, kid "attacker"', await signWith(foreign.privateKey, { ...header, kid: 'attacker' }, claims)],
      ['foreign key, the real kid', await signWith(foreign.privateKey, header, claims)],
    ]);
  });

  it('empty, missing or non-string kid (signed with the real key)', async () => {
    await expectRefusedEverywhere([
      ['kid ""', await signOwn({ kid: '' })],
      ['no kid', await signWith(testApp.app.signingKeys.signingKey.key, withoutMember(header, 'kid'), claims)],
      ['kid null', await signOwn({ kid: null })],
      ['kid 0', await signOwn({ kid: 0 })],
      ['kid [real kid]', await signOwn({ kid: [header.kid] })],
    ]);
  });

  it('crit header (signed with the real key)', async () => {
    await expectRefusedEverywhere([
      ["crit ['exp']", await signOwn({ crit: ['exp'] })],
      ["crit ['b64'] with b64: true", await signOwn({ crit: ['b64'], b64: true })],
      ["crit ['x-unknown']", await signOwn({ crit: ['x-unknown'], 'x-unknown': 1 })],
      ['crit []', await signOwn({ crit: [] })],
    ]);
  });

  it('wrong iss (signed with the real key)', async () => {
    const issuer = String(claims.iss);
    await expectRefusedEverywhere([
      ['iss https://evil.example', await signOwn({}, { iss: 'https://evil.example' })],
      ['iss with a trailing slash', await signOwn({}, { iss: `${issuer}/` })],
      ['iss in another case', await signOwn({}, { iss: issuer.toUpperCase() })],
      ['no iss', await signWith(testApp.app.signingKeys.signingKey.key, header, withoutMember(claims, 'iss'))],
    ]);
  });

  it('wrong aud (signed with the real key)', async () => {
    await expectRefusedEverywhere([
      ['aud other-api', await signOwn({}, { aud: 'other-api' })],
      ['aud [other-api]', await signOwn({}, { aud: ['other-api'] })],
      ['aud ""', await signOwn({}, { aud: '' })],
      ['no aud', await signWith(testApp.app.signingKeys.signingKey.key, header, withoutMember(claims, 'aud'))],
    ]);
  });

  it('iss as an array (signed with the real key)', async () => {
    await expectRefusedEverywhere([
      ['iss [issuer]', await signOwn({}, { iss: [claims.iss] })],
      ['iss [issuer, other]', await signOwn({}, { iss: [claims.iss, 'https://evil.example'] })],
    ]);
  });

  it('expired (signed with the real key)', async () => {
    await expectRefusedEverywhere([
      ['exp one second ago', await signOwn({}, { iat: now() - 3600, exp: now() - 1 })],
      ['exp an hour ago', await signOwn({}, { iat: now() - 7200, exp: now() - 3600 })],
      ['exp 0', await signOwn({}, { exp: 0 })],
      ['exp as a string', await signOwn({}, { exp: String(now() + 600) })],
      ['no exp', await signWith(testApp.app.signingKeys.signingKey.key, header, withoutMember(claims, 'exp'))],
    ]);
  });

  it('nbf in the future (signed with the real key)', async () => {
    await expectRefusedEverywhere([
      ['nbf in 10 s', await signOwn({}, { nbf: now() + 10 })],
      ['nbf in an hour', await signOwn({}, { nbf: now() + 3600 })],
    ]);
  });

  it('a refresh token used as an access token (the auth-service’s opaque refresh tokens)', async () => {
    await expectRefusedEverywhere([
      ['auth-service refresh token (own keys)', authOwnKeys.refreshToken],
      ['auth-service refresh token (shared keys)', authSharedKeys.refreshToken],
    ]);
  });

  it('an auth-service token sent to otherclient (its own keys; and the very same key and issuer)', async () => {
    await expectRefusedEverywhere([
      ['auth-service access token, own keys', authOwnKeys.accessToken],
      ['auth-service access token, same key and issuer', authSharedKeys.accessToken],
    ]);
  });

  it('typ other than at+jwt, and a token whose sub is not its client_id (signed with the real key)', async () => {
    await expectRefusedEverywhere([
      ['typ JWT', await signOwn({ typ: 'JWT' })],
      ['no typ', await signWith(testApp.app.signingKeys.signingKey.key, withoutMember(header, 'typ'), claims)],
      ['sub of another client', await signOwn({}, { sub: 'someone-else' })],
    ]);
  });

  it('a revoked token re-sent with its signature re-encoded (padding, alphabet, unused bits, DER, high-S twin)', async () => {
    const token = await issue();
    const variants = reencodedSignatures(token);
    expect(variants.map(([name]) => name)).toContain('ECDSA high-S twin (r, n − s)');
    // Before revocation, the equivalent encodings are the same valid token (this is what makes the test meaningful).
    const acceptedBefore: string[] = [];
    for (const [name, variant] of variants) {
      const response = await testApp.app.inject({
        method: 'GET',
        url: '/api/auth/token/info',
        headers: { authorization: `Bearer ${variant}` },
      });
      if (response.statusCode === 200) acceptedBefore.push(name);
    }
    expect(acceptedBefore).toContain('ECDSA high-S twin (r, n − s)');

    const revoked = await testApp.app.inject({
      method: 'POST',
      url: '/oauth/revoke',
      headers: { ...FORM, authorization: basicAuth(owner.clientId, owner.clientSecret) },
      payload: form({ token }),
    });
    expect(revoked.statusCode).toBe(200);
    await expectRefusedEverywhere([['the revoked token itself', token], ...variants]);
  });
});
