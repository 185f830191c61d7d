// `pnpm auth-admin <command>` (from the repository root) or, in the container,
// `node apps/auth-service/dist/cli/admin.js <command>`: administration of the SSO's applications, users and
// sessions. See `--help`.
import { readFirstLine, runDatabaseEntry } from '@mxp/service-kit/cli';
import { loadAuthServiceConfig, passwordHashParams } from '../config.js';
import { CLI } from './run-admin-command.js';

runDatabaseEntry(CLI, loadAuthServiceConfig, (db, config, base) => ({
  db,
  passwordHashParams: passwordHashParams(config),
  readStdin: () => readFirstLine(process.stdin),
  retentionDays: config.RETENTION_DAYS,
  backoffResetSeconds: config.BACKOFF_RESET_SECONDS,
  ...base,
}));
