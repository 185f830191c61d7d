import type { Fixtures } from '../fixtures.js';
import { call, JSON_HEADERS, probe } from '../http.js';
import { type ServerProcess, sleep } from '../processes.js';
import type { RevocationResult } from '../results.js';
import { loginBody } from './common.js';

/**
 * How long a logout on instance A takes to be refused by instance B (same database): sign in on A, validate on B
 * (so whatever B caches is warm), log out on A, then validate on B every 5 ms until it answers 401.
 */
export async function revocation(
  a: ServerProcess,
  b: ServerProcess,
  fixtures: Fixtures,
  applicationId: string,
): Promise<RevocationResult> {
  const user = fixtures.loginUsers[1] ?? fixtures.loginUsers[0];
  if (!user) throw new Error('no login users seeded');
  const login = await probe(
    'revocation login',
    `${a.baseUrl}/auth/login`,
    { headers: JSON_HEADERS, body: loginBody(user, applicationId) },
    (body) => typeof body.access_token === 'string',
  );
  const authorization = { authorization: `Bearer ${String(login.access_token)}` };
  const validateOnB = () => call(`${b.baseUrl}/auth/token/validate`, { headers: authorization });
  await probe('revocation warm-up', `${b.baseUrl}/auth/token/validate`, { headers: authorization }, (body) =>
    Boolean(body.valid),
  );
  const sent = performance.now();
  await probe('logout', `${a.baseUrl}/auth/logout`, { headers: authorization }, () => true);
  const answered = performance.now();
  let polls = 0;
  while (performance.now() - answered < 5000) {
    const { status } = await validateOnB();
    polls++;
    if (status === 401) {
      const seen = performance.now();
      return { visibleMs: seen - answered, sinceLogoutSentMs: seen - sent, polls };
    }
    if (status !== 200) throw new Error(`revocation: validate on the second instance answered ${status}`);
    await sleep(5);
  }
  return { visibleMs: null, sinceLogoutSentMs: null, polls };
}
