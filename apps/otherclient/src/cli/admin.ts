// `pnpm otherclient-admin <command>` (from the repository root) or, in the container,
// `node apps/otherclient/dist/cli/admin.js <command>`: administration of the API clients. See `--help`.
import { runDatabaseEntry } from '@mxp/service-kit/cli';
import { loadOtherclientConfig } from '../config.js';
import { CLI } from './run-admin-command.js';

const DEFAULT_ROTATION_GRACE_SECONDS = 86_400;

/** The configured grace of a rotated secret, when the configuration has one. */
function rotationGraceSeconds(config: object): number {
  const value = (config as { SECRET_ROTATION_GRACE_SECONDS?: unknown }).SECRET_ROTATION_GRACE_SECONDS;
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : DEFAULT_ROTATION_GRACE_SECONDS;
}

runDatabaseEntry(CLI, loadOtherclientConfig, (db, config, base) => ({
  db,
  pepper: config.CLIENT_SECRET_PEPPER,
  rotationGraceSeconds: rotationGraceSeconds(config),
  retentionDays: config.RETENTION_DAYS,
  backoffResetSeconds: config.BACKOFF_RESET_SECONDS,
  ...base,
}));
