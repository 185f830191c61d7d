// The references the services are compared with: the floor (bare Fastify), floor-signing (the floor plus one token
// signature), the peer (oidc-provider) and the raw argon2 ceiling of login.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { watchCpu } from '../cpu.js';
import { SCOPE } from '../fixtures.js';
import { basicAuthorization, FORM_HEADERS, form, JSON_HEADERS, probe } from '../http.js';
import { type LoadSpec, measure } from '../load.js';
import { watchMemory } from '../memory.js';
import { paths } from '../options.js';
import { baseEnv, runNode, sleep, waitForIdle } from '../processes.js';
import {
  CLIENT_CREDENTIALS_BODY,
  type Context,
  FAST_CONNECTIONS,
  has,
  isEs256AccessToken,
  measureOne,
  observe,
  record,
  start,
  tokenRequestBody,
  withServer,
} from './common.js';

/** `POST /floor` of the floor servers, with the body of `POST /api/auth/token` (two UUIDs). */
function floorLoad(baseUrl: string): LoadSpec {
  return {
    url: `${baseUrl}/floor`,
    method: 'POST',
    headers: JSON_HEADERS,
    body: tokenRequestBody(randomUUID(), randomUUID()),
    connections: FAST_CONNECTIONS,
  };
}

/**
 * Measures the floor, then leaves its server running as `ctx.floor` (stopped by the run), so that each fast scenario
 * measures the floor again just before itself: the ratios then compare two measurements minutes apart no more.
 */
export async function floorScenarios(ctx: Context): Promise<void> {
  if (!has(ctx, 'floor')) return;
  const spec = {
    name: 'floor',
    script: join(paths.servers, 'floor.js'),
    env: { ...baseEnv(), NODE_ENV: 'production' },
    readyPath: '/health',
  };
  const server = await start(ctx, spec, false);
  const load = floorLoad(server.baseUrl);
  try {
    await probe('floor', load.url, { headers: JSON_HEADERS, body: load.body }, (body) => body.status === 'success');
    await measureOne(ctx, 'floor', server, load);
  } catch (error) {
    await server.stop();
    throw error;
  }
  ctx.floor = {
    async measure() {
      // The scenario's own warm-up and window: a shorter one would catch more of a CPU's boost after idle.
      const timing = { warmupSeconds: ctx.options.warmupSeconds, durationSeconds: ctx.options.durationSeconds };
      const { results } = await measure([load], timing, observe(ctx, server.pid));
      await waitForIdle(server.pid);
      const requestsPerSecond = results[0]?.requestsPerSecond ?? 0;
      ctx.log(`floor beside the next scenario: ${requestsPerSecond.toFixed(0)}/s`);
      return requestsPerSecond;
    },
    stop: () => server.stop(),
  };
}

/**
 * The floor plus one ES256 signature per request (servers/floor-signing.ts): how far below the floor signing alone
 * puts a token endpoint here, so that the issuance scenarios can be read against it as well as against the floor.
 */
export async function floorSigningScenario(ctx: Context): Promise<void> {
  if (!has(ctx, 'floor-signing')) return;
  const spec = {
    name: 'floor-signing',
    script: join(paths.servers, 'floor-signing.js'),
    env: { ...baseEnv(), NODE_ENV: 'production', UV_THREADPOOL_SIZE: '1' },
    readyPath: '/health',
  };
  await withServer(ctx, spec, false, async (server) => {
    const load = floorLoad(server.baseUrl);
    await probe('floor-signing', load.url, { headers: JSON_HEADERS, body: load.body }, (body) =>
      isEs256AccessToken(body.token),
    );
    await measureOne(ctx, 'floor-signing', server, load);
  });
}

export async function peerScenarios(ctx: Context): Promise<void> {
  if (!has(ctx, 'peer-token', 'peer-introspect')) return;
  const clientId = 'bench';
  const clientSecret = randomUUID();
  const opaqueResource = 'urn:bench:opaque';
  const env = {
    ...baseEnv(),
    NODE_ENV: 'production',
    PEER_ISSUER: 'https://peer.bench.invalid',
    PEER_CLIENT_ID: clientId,
    PEER_CLIENT_SECRET: clientSecret,
    PEER_SCOPE: SCOPE,
    PEER_AUDIENCE: 'maxpoint-api',
    PEER_OPAQUE_RESOURCE: opaqueResource,
    PEER_JWKS: JSON.stringify(ctx.fixtures.peerJwks),
  };
  const spec = {
    name: 'peer',
    script: join(paths.servers, 'peer.js'),
    env,
    readyPath: '/.well-known/openid-configuration',
  };
  await withServer(ctx, spec, false, async (server) => {
    const headers = { ...FORM_HEADERS, authorization: basicAuthorization(clientId, clientSecret) };
    const tokenUrl = `${server.baseUrl}/token`;
    await probe('peer token', tokenUrl, { headers, body: CLIENT_CREDENTIALS_BODY }, (body) =>
      isEs256AccessToken(body.access_token),
    );
    if (has(ctx, 'peer-token')) {
      await measureOne(ctx, 'peer-token', server, {
        url: tokenUrl,
        method: 'POST',
        headers,
        body: CLIENT_CREDENTIALS_BODY,
        connections: FAST_CONNECTIONS,
      });
    }
    if (has(ctx, 'peer-introspect')) {
      // oidc-provider can only introspect what it stores: an opaque token of the same client and scope.
      const opaque = await probe(
        'peer opaque token',
        tokenUrl,
        { headers, body: form({ grant_type: 'client_credentials', scope: SCOPE, resource: opaqueResource }) },
        (body) => typeof body.access_token === 'string',
      );
      const introspect = {
        url: `${server.baseUrl}/token/introspection`,
        body: form({ token: String(opaque.access_token) }),
      };
      await probe(
        'peer introspection',
        introspect.url,
        { headers, body: introspect.body },
        (body) => body.active === true,
      );
      await measureOne(ctx, 'peer-introspect', server, {
        ...introspect,
        method: 'POST',
        headers,
        connections: FAST_CONNECTIONS,
      });
    }
  });
}

/**
 * The raw argon2 ceiling: a child process verifying as fast as its hashing threads allow, for a scenario's time. It runs
 * right before login when login runs (so that both see the same machine), else on its own; only once either way.
 */
export async function argon2Scenario(ctx: Context): Promise<void> {
  const done = ctx.measurements.scenarios.some((result) => result.name === 'argon2-raw');
  if (!has(ctx, 'argon2-raw') || done) return;
  const { warmupSeconds, durationSeconds } = ctx.options;
  const loop = runNode(join(paths.servers, 'argon2-verify-loop.js'), [], {
    ...baseEnv(),
    WARMUP_SECONDS: String(warmupSeconds),
    DURATION_SECONDS: String(durationSeconds),
  });
  const memory = watchMemory(loop.pid);
  // The loop times its own window (after its warm-up); the CPU is accounted over the same seconds, while it runs.
  await sleep(warmupSeconds * 1000);
  const cpuWatch = watchCpu(loop.pid, ctx.options.databaseName);
  await sleep(durationSeconds * 1000);
  const cpu = cpuWatch.stop();
  const peakRssMb = memory.stop();
  const output = await loop.output;
  // The loop measures more than one concurrency (one window each) and reports the best; CPU and memory are watched
  // over the first window.
  const { perSecond, verifies, concurrency } = JSON.parse(output.trim().split('\n').pop() ?? '{}') as {
    perSecond: number;
    verifies: number;
    concurrency: number;
  };
  record(ctx, {
    name: 'argon2-raw',
    server: 'argon2-verify-loop',
    requestsPerSecond: perSecond,
    p50Ms: null,
    p99Ms: null,
    errors: 0,
    statusCodes: {},
    peakRssMb,
    cpu,
    connections: concurrency,
    seconds: durationSeconds,
    detail: { verifies, concurrency },
  });
}
