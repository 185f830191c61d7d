// auth-service: validate over many live sessions, refresh with rotation, login at the production argon2 cost,
// validate while logins saturate the CPU, and revocation seen by a second instance.
import { setPriority } from 'node:os';
import { JSON_HEADERS, primeEach, probe } from '../http.js';
import { type LoadSpec, measure } from '../load.js';
import { type ServerProcess, type ServerSpec, waitForIdle } from '../processes.js';
import {
  type Context,
  FAST_CONNECTIONS,
  has,
  isEs256AccessToken,
  LOGIN_CONNECTIONS,
  loginBody,
  measureOne,
  observe,
  productionCommand,
  record,
  rotation,
  SATURATING_LOGIN_CONNECTIONS,
  VALIDATE_RATE,
  withServer,
} from './common.js';
import { argon2Scenario } from './references.js';
import { revocation } from './revocation.js';

function authServerSpec(ctx: Context, name: string): ServerSpec {
  return {
    name,
    ...productionCommand('auth-service', ctx.fixtures.authEnv),
    readyPath: '/auth/health',
  };
}

export async function authScenarios(ctx: Context): Promise<void> {
  const applicationId = ctx.fixtures.applicationId;
  if (!has(ctx, 'validate', 'refresh', 'login', 'validate-under-login', 'revocation') || !applicationId) return;
  await withServer(ctx, authServerSpec(ctx, 'auth-service'), true, async (server) => {
    const validateUrl = `${server.baseUrl}/auth/token/validate`;
    const validateTokens = await ctx.fixtures.signValidateTokens();
    const validateLoad = (): LoadSpec => {
      const nextToken = rotation(validateTokens);
      return {
        url: validateUrl,
        method: 'POST',
        next: () => ({ headers: { authorization: `Bearer ${nextToken()}` } }),
        connections: FAST_CONNECTIONS,
      };
    };
    const loginLoad = (connections: number): LoadSpec => {
      const nextUser = rotation(ctx.fixtures.loginUsers);
      return {
        url: `${server.baseUrl}/auth/login`,
        method: 'POST',
        headers: JSON_HEADERS,
        next: () => ({ body: loginBody(nextUser(), applicationId) }),
        connections,
      };
    };

    if (has(ctx, 'validate', 'validate-under-login')) {
      await probe('validate', validateUrl, { headers: { authorization: `Bearer ${validateTokens[0]}` } }, (body) =>
        Boolean(body.valid),
      );
      // A gateway validates the same live sessions over and over: every token is validated once before measuring, so
      // both scenarios measure that steady state, not the first sight of 10,000 sessions (a database read and an ECDSA
      // verification each) spilling into the measured window on a slow run.
      await primeEach(validateTokens, FAST_CONNECTIONS, (token) => ({
        url: validateUrl,
        init: { method: 'POST', headers: { authorization: `Bearer ${token}` } },
      }));
    }
    if (has(ctx, 'validate')) await measureOne(ctx, 'validate', server, validateLoad());
    if (has(ctx, 'refresh')) await refreshScenario(ctx, server);
    if (has(ctx, 'login', 'validate-under-login', 'revocation')) {
      const [user] = ctx.fixtures.loginUsers;
      if (!user) throw new Error('no login users seeded');
      await probe(
        'login',
        `${server.baseUrl}/auth/login`,
        { headers: JSON_HEADERS, body: loginBody(user, applicationId) },
        (body) => isEs256AccessToken(body.access_token),
      );
    }
    if (has(ctx, 'login')) {
      // The service is idle meanwhile: the ceiling is measured next to the login it is compared with.
      await argon2Scenario(ctx);
      await measureOne(ctx, 'login', server, loginLoad(LOGIN_CONNECTIONS));
    }
    if (has(ctx, 'validate-under-login')) {
      // The harness shares the 2 CPUs with 4 argon2 threads here; at a higher priority its timers fire on time, so
      // the latencies are the service's (a gateway would be on its own machine). Needs root; skipped otherwise.
      const priority = raisePriority();
      const { results, peakRssMb, cpu } = await measure(
        [loginLoad(SATURATING_LOGIN_CONNECTIONS), { ...validateLoad(), rate: VALIDATE_RATE }],
        { warmupSeconds: ctx.options.warmupSeconds, durationSeconds: ctx.options.durationSeconds },
        observe(ctx, server.pid),
      ).finally(priority.restore);
      await waitForIdle(server.pid);
      const [logins, validations] = results;
      if (!logins || !validations) throw new Error('validate-under-login: missing results');
      record(ctx, {
        name: 'validate-under-login',
        server: server.name,
        ...validations,
        peakRssMb,
        cpu,
        detail: {
          harnessPriorityRaised: priority.raised,
          sendLagMs: validations.sendLagMs,
          loginsPerSecond: logins.requestsPerSecond,
          loginP99Ms: logins.p99Ms,
          loginErrors: logins.errors,
          loginConnections: logins.connections,
        },
      });
    }
    if (has(ctx, 'revocation')) {
      await withServer(ctx, authServerSpec(ctx, 'auth-service-b'), true, async (second) => {
        ctx.measurements.revocation = await revocation(server, second, ctx.fixtures, applicationId);
        const visible = ctx.measurements.revocation.visibleMs;
        ctx.log(
          `revocation: visible on the second instance after ${visible === null ? '> 5000' : visible.toFixed(1)} ms`,
        );
      });
    }
  });
}

/** Raises the harness's scheduling priority (nice -10) until `restore` is called; `raised` tells whether it could. */
function raisePriority(): { raised: boolean; restore: () => void } {
  try {
    setPriority(-10);
    return { raised: true, restore: () => setPriority(0) };
  } catch {
    return { raised: false, restore: () => {} };
  }
}

/** Every refresh spends one seeded token exactly once; running out is reported (and shows as 401s). */
async function refreshScenario(ctx: Context, server: ServerProcess): Promise<void> {
  const tokens = ctx.fixtures.refreshTokens;
  let used = 0;
  const nextBody = () => {
    const token = tokens[used++] ?? 'exhausted';
    return JSON.stringify({ refresh_token: token });
  };
  const url = `${server.baseUrl}/auth/token/refresh`;
  await probe(
    'refresh',
    url,
    { headers: JSON_HEADERS, body: nextBody() },
    (body) => typeof body.refresh_token === 'string',
  );
  await measureOne(
    ctx,
    'refresh',
    server,
    { url, method: 'POST', headers: JSON_HEADERS, next: () => ({ body: nextBody() }), connections: FAST_CONNECTIONS },
    () => ({ tokensSeeded: tokens.length, tokensUsed: Math.min(used, tokens.length) }),
  );
  if (used > tokens.length) ctx.log(`refresh: ran out of seeded tokens (${tokens.length}): see refreshSessionCount`);
}
