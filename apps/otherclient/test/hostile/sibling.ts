// The auth-service, built in this test process from its sources (not a test file). It is loaded by URL at run time:
// a static import would make this app's TypeScript program include the other app's sources, outside its rootDir.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';

interface AuthServiceModules {
  app: { buildApp(config: unknown): Promise<FastifyInstance> };
  config: { loadAuthServiceConfig(env: NodeJS.ProcessEnv): unknown };
  passwords: {
    hashPassword(
      password: string,
      params: { memoryKib: number; iterations: number; parallelism: number },
    ): Promise<string>;
  };
}

async function load<Name extends keyof AuthServiceModules>(file: string): Promise<AuthServiceModules[Name]> {
  const url = new URL(`../../../auth-service/src/${file}`, import.meta.url).href;
  return (await import(/* @vite-ignore */ url)) as AuthServiceModules[Name];
}

export interface AuthServiceSibling {
  app: FastifyInstance;
  /** A signed-in session's tokens. */
  accessToken: string;
  refreshToken: string;
  close(): Promise<void>;
}

/** The auth-service on the same database (its own `auth` schema), with a user signed in to an application. */
export async function startAuthService(databaseUrl: string, env: NodeJS.ProcessEnv = {}): Promise<AuthServiceSibling> {
  const [{ buildApp }, { loadAuthServiceConfig }, { hashPassword }] = await Promise.all([
    load<'app'>('app.ts'),
    load<'config'>('config.ts'),
    load<'passwords'>('services/passwords.ts'),
  ]);
  const app = await buildApp(
    loadAuthServiceConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: databaseUrl,
      DATA_DIR: mkdtempSync(join(tmpdir(), 'mxp-sibling-auth-')),
      PASSWORD_HASH_MEMORY_KIB: '1024',
      PASSWORD_HASH_ITERATIONS: '1',
      ...env,
    }),
  );
  const username = `sibling${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  const password = 'sibling password';
  await app.db.user.create({
    data: { username, passwordHash: await hashPassword(password, { memoryKib: 1024, iterations: 1, parallelism: 1 }) },
  });
  const application = await app.db.application.create({ data: { name: `${username}-app` } });
  const response = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { username, password, application_id: application.id },
  });
  if (response.statusCode !== 200)
    throw new Error(`auth-service login answered ${response.statusCode}: ${response.body}`);
  const { access_token: accessToken, refresh_token: refreshToken } = response.json<Record<string, string>>();
  if (!accessToken || !refreshToken) throw new Error('auth-service login answered no tokens');
  return { app, accessToken, refreshToken, close: () => app.close() };
}
