// The deployed shape of docker-compose.yml on one machine: one PostgreSQL database (fresh, migrated), two processes of
// each service from their TypeScript sources in production configuration, and the nginx ingress in front of them.
// Seed data is created with the services' own admin CLIs, as an operator would.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createTestDatabase, type TestDatabase } from '@mxp/db/testing';
import { generateSigningKey } from '@mxp/jwt-core';
import { HttpClient } from './http.js';
import { Ingress, locateNginx } from './nginx.js';
import { type Child, freePorts, pollUntil, runToCompletion, startProcess } from './processes.js';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');

export type ServiceName = 'otherclient' | 'auth-service';

const HEALTH_PATH: Record<ServiceName, string> = {
  otherclient: '/api/auth/health',
  'auth-service': '/auth/health',
};

/** One process of a service, reachable directly (bypassing nginx) as well as through the ingress. */
export interface ServiceInstance {
  service: ServiceName;
  /** e.g. `auth-service-a`. */
  name: string;
  port: number;
  /** Port of its Prometheus listener (METRICS_PORT, as compose sets it), which the ingress never routes to. */
  metricsPort: number;
  /** `127.0.0.1:<port>`, as nginx writes it in `upstream=` of its access log. */
  address: string;
  direct: HttpClient;
  process: Child;
}

export interface Account {
  userId: string;
  username: string;
  password: string;
}

export interface Stack {
  database: TestDatabase;
  ingress: Ingress;
  /** Requests through nginx. */
  client: HttpClient;
  otherclient: [ServiceInstance, ServiceInstance];
  authService: [ServiceInstance, ServiceInstance];
  issuers: Record<ServiceName, string>;
  apiClient: { clientId: string; clientSecret: string };
  applicationId: string;
  account: Account;
  /** Milliseconds from the first spawn until every service instance answered its health route. */
  startupMs: number;
  /** Starts a stopped instance again, on the same ports with the same configuration. */
  restart: (instance: ServiceInstance) => Promise<ServiceInstance>;
  /** The last output lines of every process and nginx's error log, for failure messages. */
  diagnostics: () => string;
  stop: () => Promise<void>;
}

/**
 * The environment of every service process and admin CLI: nothing inherited from the test process (vitest sets
 * NODE_ENV=test, the developer's shell may hold DATABASE_URL), production settings as in docker-compose.yml.
 */
function commonEnv(databaseUrl: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    LANG: 'C.UTF-8',
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    DATABASE_URL: databaseUrl,
    // Four processes share the server with every other test file running meanwhile; the flows need few connections.
    DATABASE_POOL_MAX: '3',
    REDIS_URL: process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379',
    // As in docker-compose.yml: exactly one proxy, the ingress, which overwrites X-Forwarded-For.
    TRUST_PROXY: '1',
    // Every request of the test comes from one or two loopback addresses: the per-address limits (120 credential
    // checks a minute) would throttle the flows, which are not what is being limited here.
    RATE_LIMIT_GLOBAL_PER_MINUTE: '1000000',
    RATE_LIMIT_CREDENTIALS_PER_MINUTE: '1000000',
  };
}

/** A private JWK Set (ES256, the default algorithm) as compose's secret files hold it. */
async function writeKeySet(path: string): Promise<void> {
  writeFileSync(path, JSON.stringify({ keys: [await generateSigningKey('ES256')] }), { mode: 0o600 });
}

function nodeWithSources(script: string): { command: string; args: string[] } {
  // tsx from the repository root, with workspace packages resolved to their sources (as `pnpm dev` runs them).
  return { command: process.execPath, args: ['--import', 'tsx', '--conditions=@mxp/source', script] };
}

async function runAdmin(
  service: ServiceName,
  env: Record<string, string>,
  args: readonly string[],
  stdin?: string,
): Promise<Record<string, unknown>> {
  const node = nodeWithSources(`apps/${service}/src/cli/admin.ts`);
  const output = await runToCompletion({
    name: `${service} admin ${args.slice(0, 2).join(' ')}`,
    command: node.command,
    args: [...node.args, ...args, '--json'],
    env,
    cwd: REPO_ROOT,
    stdin,
  });
  return JSON.parse(output) as Record<string, unknown>;
}

async function startInstance(
  service: ServiceName,
  name: string,
  ports: { port: number; metricsPort: number },
  env: Record<string, string>,
): Promise<ServiceInstance> {
  const { port, metricsPort } = ports;
  const child = startProcess({
    name,
    ...nodeWithSources(`apps/${service}/src/server.ts`),
    env: { ...env, PORT: String(port), METRICS_PORT: String(metricsPort) },
    cwd: REPO_ROOT,
  });
  const direct = new HttpClient(`http://127.0.0.1:${port}`);
  try {
    await pollUntil(
      `${name} healthy on port ${port}`,
      async () => ((await direct.send(HEALTH_PATH[service])).status === 200 ? true : undefined),
      {
        timeoutMs: 60_000,
        abort: () => (child.hasExited() ? `exited\n${child.outputTail()}` : undefined),
      },
    );
  } catch (error) {
    await child.stop('SIGKILL');
    direct.close();
    throw error;
  }
  return { service, name, port, metricsPort, address: `127.0.0.1:${port}`, direct, process: child };
}

export async function startStack(): Promise<Stack> {
  // First, so that a machine without nginx fails at once with the instructions, before anything is started.
  const nginxBin = locateNginx(REPO_ROOT);
  const secrets = mkdtempSync(join(tmpdir(), 'mxp-e2e-secrets-'));
  const database = await createTestDatabase();
  const started: ServiceInstance[] = [];
  let ingress: Ingress | undefined;
  try {
    const [ingressPort = 0, ...instancePorts] = await freePorts(9);
    const portsOf = (index: number) => ({
      port: instancePorts[2 * index] ?? 0,
      metricsPort: instancePorts[2 * index + 1] ?? 0,
    });
    const [ocA, ocB, asA, asB] = [portsOf(0), portsOf(1), portsOf(2), portsOf(3)];
    const ingressUrl = `http://127.0.0.1:${ingressPort}`;
    // The issuers compose gives them: the public URL of the ingress (plus /auth for the SSO).
    const issuers: Record<ServiceName, string> = { otherclient: ingressUrl, 'auth-service': `${ingressUrl}/auth` };

    // Both instances of a service read the same secret files, as compose's replicas do: a token signed by one is
    // verified by the other, and a client secret hashed by one is recognised by the other.
    await Promise.all([
      writeKeySet(join(secrets, 'otherclient-jwks.json')),
      writeKeySet(join(secrets, 'auth-service-jwks.json')),
    ]);
    writeFileSync(join(secrets, 'client-secret-pepper'), randomBytes(32).toString('base64url'), { mode: 0o600 });
    const common = commonEnv(database.url);
    const otherclientEnv = {
      ...common,
      JWT_ISSUER: issuers.otherclient,
      JWT_PRIVATE_JWKS_FILE: join(secrets, 'otherclient-jwks.json'),
      CLIENT_SECRET_PEPPER_FILE: join(secrets, 'client-secret-pepper'),
    };
    const authServiceEnv = {
      ...common,
      JWT_ISSUER: issuers['auth-service'],
      JWT_PRIVATE_JWKS_FILE: join(secrets, 'auth-service-jwks.json'),
      // The cheapest argon2id the configuration accepts: the flows sign in hundreds of times.
      PASSWORD_HASH_MEMORY_KIB: '1024',
      PASSWORD_HASH_ITERATIONS: '1',
      PASSWORD_HASH_THREADS: '1',
    };
    const envOf = (service: ServiceName) => (service === 'otherclient' ? otherclientEnv : authServiceEnv);

    const password = `e2e-${randomBytes(12).toString('base64url')}`;
    const username = `e2e-user-${randomBytes(3).toString('hex')}`;
    const spawnedAt = performance.now();
    const launch = (service: ServiceName, name: string, ports: { port: number; metricsPort: number }) =>
      startInstance(service, name, ports, envOf(service)).then((instance) => {
        started.push(instance);
        return instance;
      });
    // All at once (the CLIs only need the migrated database); every one is awaited before judging, so that a failure
    // leaves no instance starting unseen.
    const outcomes = await Promise.allSettled([
      runAdmin('otherclient', otherclientEnv, [
        'clients',
        'create',
        '--name',
        'e2e integrator',
        '--scopes',
        'orders:read',
      ]),
      runAdmin('auth-service', authServiceEnv, ['apps', 'create', '--name', 'e2e portal']),
      runAdmin(
        'auth-service',
        authServiceEnv,
        ['users', 'create', '--username', username, '--password-stdin'],
        password,
      ),
      launch('otherclient', 'otherclient-a', ocA),
      launch('otherclient', 'otherclient-b', ocB),
      launch('auth-service', 'auth-service-a', asA),
      launch('auth-service', 'auth-service-b', asB),
    ]);
    const failed = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    const [apiClient, application, user, otherclientA, otherclientB, authServiceA, authServiceB] = outcomes.map(
      (outcome) => (outcome as PromiseFulfilledResult<unknown>).value,
    ) as [
      Record<string, unknown>,
      Record<string, unknown>,
      Record<string, unknown>,
      ServiceInstance,
      ServiceInstance,
      ServiceInstance,
      ServiceInstance,
    ];
    const startupMs = performance.now() - spawnedAt;

    ingress = await Ingress.start({
      nginxBin,
      repoRoot: REPO_ROOT,
      port: ingressPort,
      otherclientPorts: [ocA.port, ocB.port],
      authServicePorts: [asA.port, asB.port],
    });
    const client = new HttpClient(ingress.baseUrl);
    const runningIngress = ingress;

    const stack: Stack = {
      database,
      ingress,
      client,
      otherclient: [otherclientA, otherclientB],
      authService: [authServiceA, authServiceB],
      issuers,
      apiClient: { clientId: String(apiClient.clientId), clientSecret: String(apiClient.clientSecret) },
      applicationId: String(application.applicationId),
      account: { userId: String(user.userId), username, password },
      startupMs,
      async restart(instance) {
        if (!instance.process.hasExited()) throw new Error(`${instance.name} is still running`);
        instance.direct.close();
        const again = await launch(instance.service, instance.name, instance);
        const pair = instance.service === 'otherclient' ? stack.otherclient : stack.authService;
        pair[pair.indexOf(instance)] = again;
        return again;
      },
      diagnostics() {
        const tails = started.map((instance) => instance.process.outputTail(40));
        return [...tails, runningIngress.process.outputTail(80)].join('\n');
      },
      async stop() {
        client.close();
        // Everything is stopped and removed even when one part fails to stop; the first failure is reported after.
        const stopped = await Promise.allSettled([
          ...started.map((instance) => instance.process.stop('SIGTERM')),
          runningIngress.stop(),
        ]);
        for (const instance of started) instance.direct.close();
        await database.drop();
        rmSync(secrets, { recursive: true, force: true });
        const failure = stopped.find((outcome) => outcome.status === 'rejected');
        if (failure) throw failure.reason;
      },
    };
    return stack;
  } catch (error) {
    await Promise.all(started.map((instance) => instance.process.stop('SIGKILL')));
    await ingress?.stop();
    await database.drop();
    rmSync(secrets, { recursive: true, force: true });
    throw error;
  }
}
