// JWT attacks against every auth-service endpoint that takes a token: the Bearer routes (POST /auth/token/validate,
// POST /auth/logout, GET /auth/session/me, GET /auth/sessions, GET /auth/logs, DELETE /auth/sessions,
// DELETE /auth/sessions/:id) must answer 401 in the envelope and end no session, and POST /auth/token/refresh must
// refuse every one of them as a refresh token. Forged tokens copy the claims of a genuine access token of a live
// session and are signed with the service's own private key whenever the attack allows, so the defect under test is
// the only one.
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
import { envelopeProblems, UNLIMITED } from '@mxp/testing/hostile-requests';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  createApplication,
  createUser,
  type LoginResult,
  login,
  startApp,
  type TestApp,
  type TestUser,
  validate,
} from '../routes/support.js';
import { type OtherclientSibling, startOtherclient } from './sibling.js';

let testApp: TestApp;
let user: TestUser;
let applicationId: string;
let otherApplicationId: string;
/** otherclient with its own keys, and one sharing this service's signing key and issuer. */
let otherclientOwnKeys: OtherclientSibling;
let otherclientSharedKeys: OtherclientSibling;

beforeAll(async () => {
  // Configured keys (not the development ones), so that the sibling can be given the very same key.
  const jwks = JSON.stringify({ keys: [await generateSigningKey('ES256')] });
  testApp = await startApp({ ...UNLIMITED, JWT_PRIVATE_JWKS: jwks });
  expect(testApp.app.signingKeys.signingKey.alg).toBe('ES256');
  user = await createUser(testApp.db);
  applicationId = (await createApplication(testApp.db)).id;
  otherApplicationId = (await createApplication(testApp.db)).id;
  otherclientOwnKeys = await startOtherclient(testApp.config.DATABASE_URL);
  otherclientSharedKeys = await startOtherclient(testApp.config.DATABASE_URL, {
    JWT_PRIVATE_JWKS: jwks,
    JWT_ISSUER: issuerOf(testApp.config),
  });
}, 30_000);
afterAll(async () => {
  await otherclientOwnKeys?.close();
  await otherclientSharedKeys?.close();
  await testApp?.close();
});

/**
 * Two live sessions of the user: `victim`, whose genuine access token every forgery copies (claims, jti and sid
 * included), and `bystander`, the target of the session-closing routes. Both must still be active after the attack.
 */
interface Scene {
  victim: LoginResult;
  bystander: LoginResult;
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
}

async function scene(): Promise<Scene> {
  const victim = await login(testApp, user, applicationId);
  const bystander = await login(testApp, user, applicationId);
  return { victim, bystander, ...decodeParts(victim.access_token) };
}

/** Signed with the service's own private key: a token as only the service itself could make it. */
function signOwn(
  { header, claims }: Scene,
  headerChanges: Record<string, unknown>,
  claimChanges: Record<string, unknown> = {},
): Promise<string> {
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

function refusal(response: LightMyRequestResponse, extra: Record<string, unknown> = {}): string | undefined {
  const problems = response.statusCode === 401 ? envelopeProblems(response, extra) : [`status ${response.statusCode}`];
  return problems.length ? `${problems.join(', ')}: ${response.body.slice(0, 200)}` : undefined;
}

type EndpointCheck = (token: string, scene: Scene) => Promise<string | undefined>;

const BEARER_ENDPOINTS: Array<[string, EndpointCheck]> = [
  ['POST /auth/token/validate', async (token) => refusal(await validate(testApp, token), { valid: false })],
  [
    'POST /auth/logout',
    async (token) => refusal(await testApp.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(token) })),
  ],
  [
    'GET /auth/session/me',
    async (token) =>
      refusal(await testApp.app.inject({ method: 'GET', url: '/auth/session/me', headers: bearer(token) })),
  ],
  [
    'GET /auth/sessions',
    async (token) =>
      refusal(await testApp.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(token) })),
  ],
  [
    'GET /auth/logs',
    async (token) => refusal(await testApp.app.inject({ method: 'GET', url: '/auth/logs', headers: bearer(token) })),
  ],
  [
    'DELETE /auth/sessions',
    async (token) =>
      refusal(await testApp.app.inject({ method: 'DELETE', url: '/auth/sessions', headers: bearer(token) })),
  ],
  [
    'DELETE /auth/sessions/:id',
    async (token, { bystander }) =>
      refusal(
        await testApp.app.inject({
          method: 'DELETE',
          url: `/auth/sessions/${bystander.session_id}`,
          headers: bearer(token),
        }),
      ),
  ],
];

const REFRESH_ENDPOINT: [string, EndpointCheck] = [
  'POST /auth/token/refresh',
  async (token) => {
    const response = await testApp.app.inject({
      method: 'POST',
      url: '/auth/token/refresh',
      payload: { refresh_token: token },
    });
    const problem = refusal(response);
    if (problem) return problem;
    return response.json().message === 'Refresh token inválido, expirado o revocado' ? undefined : response.body;
  },
];

const ALL_ENDPOINTS = [...BEARER_ENDPOINTS, REFRESH_ENDPOINT];

/**
 * Sends each token to every endpoint, expects each refused, and afterwards both sessions of the scene still active
 * (no forged logout or session closing got through).
 */
async function expectRefusedEverywhere(
  current: Scene,
  tokens: Array<[string, string]>,
  endpoints: Array<[string, EndpointCheck]> = ALL_ENDPOINTS,
  mustStayActive: LoginResult[] = [current.victim, current.bystander],
): Promise<void> {
  expect(tokens.length).toBeGreaterThan(0);
  const accepted: string[] = [];
  for (const [label, token] of tokens) {
    for (const [endpoint, check] of endpoints) {
      const problem = await check(token, current);
      if (problem) accepted.push(`${endpoint} ← ${label}: ${problem}`);
    }
  }
  for (const session of mustStayActive) {
    const response = await validate(testApp, session.access_token);
    if (response.statusCode !== 200) accepted.push(`session ${session.session_id} was ended`);
  }
  expect(accepted).toEqual([]);
}

const now = () => Math.floor(Date.now() / 1000);

describe('JWT attacks on every auth-service endpoint that takes a token', () => {
  it('control: the genuine access token passes every Bearer check, and the genuine refresh token refreshes', async () => {
    const current = await scene();
    for (const [endpoint, check] of BEARER_ENDPOINTS.filter(([name]) => !/logout|DELETE/.test(name))) {
      expect(await check(current.victim.access_token, current), endpoint).toMatch(/status 200/);
    }
    expect(await REFRESH_ENDPOINT[1](current.victim.refresh_token, current)).toMatch(/status 200/);
  });

  it('alg: none (in any case, with no signature or the genuine one)', async () => {
    const current = await scene();
    const [, , signature] = current.victim.access_token.split('.');
    const tokens: Array<[string, string]> = [];
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      const unsigned = `${b64json({ ...current.header, alg })}.${b64json(current.claims)}`;
      tokens.push([`alg ${alg}, empty signature`, `${unsigned}.`]);
      tokens.push([`alg ${alg}, genuine signature`, `${unsigned}.${signature}`]);
    }
    await expectRefusedEverywhere(current, tokens);
  });

  it('HS256 signed with the public key (key confusion): PEM, DER, JWK JSON, raw point, with the real kid', async () => {
    const current = await scene();
    const kid = testApp.app.signingKeys.signingKey.kid;
    const publicJwk = testApp.app.signingKeys.verificationKeys.get(kid)?.publicJwk;
    expect(publicJwk).toBeDefined();
    const tokens = keyConfusionSecrets({ ...publicJwk }).map(([name, secret]): [string, string] => [
      `HS256 with the ${name}`,
      signHs256({ ...current.header, alg: 'HS256' }, current.claims, secret),
    ]);
    await expectRefusedEverywhere(current, tokens);
  });

  it('unknown kid (signed with the real key, or with a foreign key under a made-up kid)', async () => {
    const current = await scene();
    const foreign = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    await expectRefusedEverywhere(current, [
      ['real key, kid "unknown"', await signOwn(current, { kid: 'unknown' })],
      ['real key, kid with a character more', await signOwn(current, { kid: `${String(current.header.kid)}x` })],
      [
        'foreign key, kid "attacker"',
        await signWith(foreign.privateKey, { ...current.header, kid: 'attacker' }, current.claims),
      ],
      ['foreign key, the real kid', await signWith(foreign.privateKey, current.header, current.claims)],
    ]);
  });

  it('empty, missing or non-string kid (signed with the real key)', async () => {
    const current = await scene();
    const key = testApp.app.signingKeys.signingKey.key;
    await expectRefusedEverywhere(current, [
      ['kid ""', await signOwn(current, { kid: '' })],
      ['no kid', await signWith(key, withoutMember(current.header, 'kid'), current.claims)],
      ['kid null', await signOwn(current, { kid: null })],
      ['kid 0', await signOwn(current, { kid: 0 })],
      ['kid [real kid]', await signOwn(current, { kid: [current.header.kid] })],
    ]);
  });

  it('crit header (signed with the real key)', async () => {
    const current = await scene();
    await expectRefusedEverywhere(current, [
      ["crit ['exp']", await signOwn(current, { crit: ['exp'] })],
      ["crit ['b64'] with b64: true", await signOwn(current, { crit: ['b64'], b64: true })],
      ["crit ['x-unknown']", await signOwn(current, { crit: ['x-unknown'], 'x-unknown': 1 })],
      ['crit []', await signOwn(current, { crit: [] })],
    ]);
  });

  it('wrong iss (signed with the real key)', async () => {
    const current = await scene();
    const issuer = String(current.claims.iss);
    await expectRefusedEverywhere(current, [
      ['iss https://evil.example', await signOwn(current, {}, { iss: 'https://evil.example' })],
      ['iss with a trailing slash', await signOwn(current, {}, { iss: `${issuer}/` })],
      ['iss in another case', await signOwn(current, {}, { iss: issuer.toUpperCase() })],
      [
        'no iss',
        await signWith(testApp.app.signingKeys.signingKey.key, current.header, withoutMember(current.claims, 'iss')),
      ],
    ]);
  });

  it('wrong aud of a form the service never issues: a list, empty, missing (signed with the real key)', async () => {
    const current = await scene();
    await expectRefusedEverywhere(current, [
      ['aud [application]', await signOwn(current, {}, { aud: [applicationId] })],
      ['aud ""', await signOwn(current, {}, { aud: '' })],
      [
        'no aud',
        await signWith(testApp.app.signingKeys.signingKey.key, current.header, withoutMember(current.claims, 'aud')),
      ],
    ]);
  });

  // src/services/tokens.ts verifySessionAccessToken takes the audience to expect from the token itself
  // (unverifiedAudience) and src/plugins/auth.ts identifyCaller never compares it with session.applicationId:
  // a token whose aud is not its session's application is accepted, and validate answers that aud as application_id.
  it('wrong aud: another application, or one that does not exist, for a live session (signed with the real key)', async () => {
    // Sessions of their own: a forged logout or session closing that gets through must not disturb the other tests.
    const current = await scene();
    await expectRefusedEverywhere(current, [
      [
        'aud (and client_id) of another application',
        await signOwn(current, {}, { aud: otherApplicationId, client_id: otherApplicationId }),
      ],
      ['aud of no application', await signOwn(current, {}, { aud: 'not-an-application' })],
    ]);
  });

  it('iss as an array (signed with the real key)', async () => {
    const current = await scene();
    await expectRefusedEverywhere(current, [
      ['iss [issuer]', await signOwn(current, {}, { iss: [current.claims.iss] })],
      ['iss [issuer, other]', await signOwn(current, {}, { iss: [current.claims.iss, 'https://evil.example'] })],
    ]);
  });

  it('expired (signed with the real key)', async () => {
    const current = await scene();
    await expectRefusedEverywhere(current, [
      ['exp one second ago', await signOwn(current, {}, { iat: now() - 3600, exp: now() - 1 })],
      ['exp an hour ago', await signOwn(current, {}, { iat: now() - 7200, exp: now() - 3600 })],
      ['exp 0', await signOwn(current, {}, { exp: 0 })],
      ['exp as a string', await signOwn(current, {}, { exp: String(now() + 600) })],
      [
        'no exp',
        await signWith(testApp.app.signingKeys.signingKey.key, current.header, withoutMember(current.claims, 'exp')),
      ],
    ]);
  });

  it('nbf in the future (signed with the real key)', async () => {
    const current = await scene();
    await expectRefusedEverywhere(current, [
      ['nbf in 10 s', await signOwn(current, {}, { nbf: now() + 10 })],
      ['nbf in an hour', await signOwn(current, {}, { nbf: now() + 3600 })],
    ]);
  });

  it('a refresh token used as an access token', async () => {
    const current = await scene();
    await expectRefusedEverywhere(
      current,
      [
        ["the victim's refresh token", current.victim.refresh_token],
        ["the bystander's refresh token", current.bystander.refresh_token],
      ],
      BEARER_ENDPOINTS,
    );
    // Still a good refresh token afterwards: trying it as a Bearer token spent nothing.
    expect((await REFRESH_ENDPOINT[1](current.victim.refresh_token, current)) ?? '').toMatch(/status 200/);
  });

  it('an access token used as a refresh token', async () => {
    const current = await scene();
    await expectRefusedEverywhere(
      current,
      [
        ["the victim's access token", current.victim.access_token],
        ['an otherclient access token', otherclientOwnKeys.accessToken],
      ],
      [REFRESH_ENDPOINT],
    );
  });

  it('an otherclient token sent to the auth-service (its own keys; and the very same key and issuer)', async () => {
    const current = await scene();
    await expectRefusedEverywhere(current, [
      ['otherclient access token, own keys', otherclientOwnKeys.accessToken],
      ['otherclient access token, same key and issuer', otherclientSharedKeys.accessToken],
    ]);
  });

  it('typ other than at+jwt, and claims of the wrong type (signed with the real key)', async () => {
    const current = await scene();
    const key = testApp.app.signingKeys.signingKey.key;
    await expectRefusedEverywhere(current, [
      ['typ JWT', await signOwn(current, { typ: 'JWT' })],
      ['no typ', await signWith(key, withoutMember(current.header, 'typ'), current.claims)],
      ['sid as a number', await signOwn(current, {}, { sid: 1 })],
      ['sub as a list', await signOwn(current, {}, { sub: [current.claims.sub] })],
      ['no sid', await signWith(key, current.header, withoutMember(current.claims, 'sid'))],
      ['sid of another user’s session', await signOwn(current, {}, { sub: 'someone-else' })],
    ]);
  });

  it('a revoked token (logout) re-sent with its signature re-encoded (padding, alphabet, unused bits, DER, high-S twin)', async () => {
    const current = await scene();
    const revoked = await login(testApp, user, applicationId);
    const variants = reencodedSignatures(revoked.access_token);
    expect(variants.map(([name]) => name)).toContain('ECDSA high-S twin (r, n − s)');
    // Before the logout, the equivalent encodings are the same valid token (this is what makes the test meaningful).
    const acceptedBefore: string[] = [];
    for (const [name, variant] of variants) {
      if ((await validate(testApp, variant)).statusCode === 200) acceptedBefore.push(name);
    }
    expect(acceptedBefore).toContain('ECDSA high-S twin (r, n − s)');

    const logout = await testApp.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: bearer(revoked.access_token),
    });
    expect(logout.statusCode).toBe(200);
    await expectRefusedEverywhere(current, [['the revoked token itself', revoked.access_token], ...variants]);
  });
});
