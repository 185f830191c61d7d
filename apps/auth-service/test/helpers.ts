import { createTestDatabase } from '@mxp/db/testing';
import { buildApp } from '../src/app.js';
import { loadAuthServiceConfig } from '../src/config.js';

/** Test settings: quiet logs and cheap, explicit secrets; anything in `env` overrides them. */
export function testEnv(databaseUrl: string, env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl,
    PASSWORD_HASH_MEMORY_KIB: '1024',
    PASSWORD_HASH_ITERATIONS: '1',
    ...env,
  };
}

/** The app on a fresh database of its own (dropped by `close`). */
export async function startTestApp(env: NodeJS.ProcessEnv = {}) {
  const database = await createTestDatabase();
  const config = loadAuthServiceConfig(testEnv(database.url, env));
  const app = await buildApp(config);
  return {
    app,
    config,
    db: app.db,
    async close() {
      await app.close();
      await database.drop();
    },
  };
}
