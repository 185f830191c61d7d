// `pnpm otherclient-admin <command>` (from the repository root) or, in the container,
// `node apps/otherclient/dist/cli/admin.js <command>`: administration of the API clients. See `--help`.
import { userInfo } from 'node:os';
import { createPrismaClient } from '@mxp/db';
import { loadOtherclientConfig } from '../config.js';
import { parseAdminArgs, reportError, runAdminCommand, writeParseOutcome } from './run-admin-command.js';

const DEFAULT_ROTATION_GRACE_SECONDS = 86_400;

const io = {
  out: (line: string) => void process.stdout.write(`${line}\n`),
  err: (line: string) => void process.stderr.write(`${line}\n`),
};

/** The operating-system user running the command, recorded in the admin audit (`--actor` overrides it). */
function osUser(env: NodeJS.ProcessEnv): string {
  try {
    const { username } = userInfo();
    if (username) return username;
  } catch {
    // A uid without a passwd entry (some containers): fall back to the environment.
  }
  return env.USER || env.USERNAME || 'unknown';
}

/** The configured grace of a rotated secret, when the configuration has one. */
function rotationGraceSeconds(config: object): number {
  const value = (config as { SECRET_ROTATION_GRACE_SECONDS?: unknown }).SECRET_ROTATION_GRACE_SECONDS;
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : DEFAULT_ROTATION_GRACE_SECONDS;
}

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  // Help and usage errors need no configuration or database.
  const parsed = parseAdminArgs(argv);
  if (parsed.kind !== 'command') return writeParseOutcome(parsed, io);

  let config: ReturnType<typeof loadOtherclientConfig>;
  try {
    config = loadOtherclientConfig(env);
  } catch (error) {
    return reportError(error, parsed.json, io.err);
  }
  const db = createPrismaClient(config.DATABASE_URL, {
    poolMax: 2,
    connectionTimeoutMillis: config.DATABASE_CONNECT_TIMEOUT_MS,
    applicationName: 'otherclient-admin',
  });
  try {
    return await runAdminCommand(argv, {
      db,
      pepper: config.CLIENT_SECRET_PEPPER,
      rotationGraceSeconds: rotationGraceSeconds(config),
      actor: osUser(env),
      ...io,
    });
  } finally {
    await db.$disconnect().catch(() => {});
  }
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.exitCode = reportError(error, process.argv.includes('--json'), io.err);
  },
);
