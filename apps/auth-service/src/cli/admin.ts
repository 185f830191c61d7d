// `pnpm auth-admin <command>` (from the repository root) or, in the container,
// `node apps/auth-service/dist/cli/admin.js <command>`: administration of the SSO's applications, users and
// sessions. See `--help`.
import { createPrismaClient } from '@mxp/db';
import { type AuthServiceConfig, loadAuthServiceConfig, passwordHashParams } from '../config.js';
import { osUser, processIo, readFirstLine, runEntry } from './cli-kit.js';
import { PROGRAM, parseAdminArgs, reportError, runAdminCommand, writeParseOutcome } from './run-admin-command.js';

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  // Help and usage errors need no configuration or database.
  const parsed = parseAdminArgs(argv);
  if (parsed.kind !== 'command') return writeParseOutcome(parsed, processIo);

  let config: AuthServiceConfig;
  try {
    config = loadAuthServiceConfig(env);
  } catch (error) {
    return reportError(error, parsed.json, processIo.err);
  }
  const db = createPrismaClient(config.DATABASE_URL, {
    poolMax: 2,
    connectionTimeoutMillis: config.DATABASE_CONNECT_TIMEOUT_MS,
    applicationName: 'auth-admin',
  });
  try {
    return await runAdminCommand(argv, {
      db,
      passwordHashParams: passwordHashParams(config),
      actor: osUser(env),
      readStdin: () => readFirstLine(process.stdin),
      ...processIo,
    });
  } finally {
    await db.$disconnect().catch(() => {});
  }
}

runEntry(PROGRAM, () => main(process.argv.slice(2), process.env));
