// otherclient, built in this test process from its sources (not a test file). It is loaded by URL at run time: a
// static import would make this app's TypeScript program include the other app's sources, outside its rootDir.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';

interface OtherclientModules {
  app: { buildApp(config: unknown): Promise<FastifyInstance> };
  config: { loadOtherclientConfig(env: NodeJS.ProcessEnv): { CLIENT_SECRET_PEPPER: string } };
  clients: {
    createClient(
      db: FastifyInstance['db'],
      pepper: string,
      input: { name: string },
      actor?: string,
    ): Promise<{ client: { clientId: string }; clientSecret: string }>;
  };
}

async function load<Name extends keyof OtherclientModules>(file: string): Promise<OtherclientModules[Name]> {
  const url = new URL(`../../../otherclient/src/${file}`, import.meta.url).href;
  return (await import(/* @vite-ignore */ url)) as OtherclientModules[Name];
}

export interface OtherclientSibling {
  app: FastifyInstance;
  /** An access token issued to a client of its own. */
  accessToken: string;
  close(): Promise<void>;
}

/** otherclient on the same database (its own `otherclient` schema), with a client and a token it was issued. */
export async function startOtherclient(databaseUrl: string, env: NodeJS.ProcessEnv = {}): Promise<OtherclientSibling> {
  const [{ buildApp }, { loadOtherclientConfig }, { createClient }] = await Promise.all([
    load<'app'>('app.ts'),
    load<'config'>('config.ts'),
    load<'clients'>('services/clients.ts'),
  ]);
  const config = loadOtherclientConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl,
    DATA_DIR: mkdtempSync(join(tmpdir(), 'mxp-sibling-otherclient-')),
    CLIENT_SECRET_PEPPER: 'sibling-pepper-0123456789abcdef0123456789',
    ...env,
  });
  const app = await buildApp(config);
  const { client, clientSecret } = await createClient(
    app.db,
    config.CLIENT_SECRET_PEPPER,
    { name: 'Sibling' },
    'vitest',
  );
  const response = await app.inject({
    method: 'POST',
    url: '/api/auth/token',
    payload: { clientId: client.clientId, clientSecret },
  });
  if (response.statusCode !== 200) throw new Error(`otherclient answered ${response.statusCode}: ${response.body}`);
  const accessToken = response.json<{ data: { token: string } }>().data.token;
  return { app, accessToken, close: () => app.close() };
}
