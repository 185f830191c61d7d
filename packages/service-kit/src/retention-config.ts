import { Type } from 'typebox';

/** Variables of the history retention (`auth-admin prune`, `otherclient-admin prune`), shared by both services. */
export const RetentionConfigProperties = {
  RETENTION_DAYS: Type.Integer({
    minimum: 1,
    maximum: 36_500,
    default: 90,
    description: 'The admin `prune` command deletes history rows (attempts, logs, token audit) older than this',
  }),
};
