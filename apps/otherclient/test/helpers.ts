import { createTestDatabase } from '@mxp/db/testing';
import { buildApp } from '../src/app.js';
import { loadOtherclientConfig } from '../src/config.js';

/** Test settings: quiet logs and cheap, explicit secrets; anything in `env` overrides them. */
export function testEnv(databaseUrl: string, env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl,
    CLIENT_SECRET_PEPPER: 'test-pepper-0123456789abcdef0123456789',
    ...env,
  };
}

/** The app on a fresh database of its own (dropped by `close`). */
export async function startTestApp(env: NodeJS.ProcessEnv = {}) {
  const database = await createTestDatabase();
  const config = loadOtherclientConfig(testEnv(database.url, env));
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
