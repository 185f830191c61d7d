// An app built with its service's own logger settings (level, redaction) at level trace, writing every log line to
// an array the test reads (not a test file itself). Each service passes its own `buildApp`, config loader and
// test settings.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '@mxp/db/testing';
import { loggerOptions } from '@mxp/service-kit';
import type { FastifyServerOptions } from 'fastify';
import { UNLIMITED } from './hostile-requests.js';

export interface LogCapturedAppOptions<Config extends { NODE_ENV: string }, App> {
  buildApp: (config: Config, overrides: Partial<FastifyServerOptions>) => Promise<App>;
  loadConfig: (env: NodeJS.ProcessEnv) => Config;
  /** The service's test settings for a database URL, with `env` overriding them. */
  testEnv: (databaseUrl: string, env?: NodeJS.ProcessEnv) => NodeJS.ProcessEnv;
  /** The service's name in its logs. */
  serviceName: string;
  /** Where every line logged goes. */
  logged: string[];
}

/** The app on a fresh database (dropped by the caller through `database`), logging at trace into `logged`. */
export async function startLogCapturedApp<Config extends { NODE_ENV: string }, App>({
  buildApp,
  loadConfig,
  testEnv,
  serviceName,
  logged,
}: LogCapturedAppOptions<Config, App>): Promise<{ database: TestDatabase; config: Config; app: App }> {
  const database = await createTestDatabase();
  try {
    const config = loadConfig(
      testEnv(database.url, { ...UNLIMITED, LOG_LEVEL: 'trace', DATA_DIR: mkdtempSync(join(tmpdir(), 'mxp-logs-')) }),
    );
    // The service's own logger settings (level, redaction) with a capturing destination: passing `logger` replaces
    // the one baseFastifyOptions makes, so it is rebuilt from the same loggerOptions.
    const options = loggerOptions({ LOG_LEVEL: 'trace', NODE_ENV: config.NODE_ENV, serviceName });
    if (typeof options !== 'object') throw new Error('loggerOptions returned no options object');
    const app = await buildApp(config, {
      logger: { ...options, stream: { write: (line: string) => logged.push(line) } },
    });
    return { database, config, app };
  } catch (error) {
    await database.drop();
    throw error;
  }
}

/** The "request completed" line (requestLogging) of the request with id `requestId`, parsed; fails when absent. */
export function requestLogLine(logged: readonly string[], requestId: string): Record<string, unknown> {
  const line = logged
    .map((text) => JSON.parse(text) as Record<string, unknown>)
    .find((entry) => entry.msg === 'request completed' && entry.reqId === requestId);
  if (!line) throw new Error(`no request line for ${requestId}`);
  return line;
}
