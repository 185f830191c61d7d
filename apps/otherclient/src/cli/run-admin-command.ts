// The admin CLI's commands, independent of the process: argv in, lines out, exit code back (tests run it in-process).
// The generic plumbing (parsing, help, errors, exit codes) is in @mxp/service-kit/cli.
import type { PrismaClient } from '@mxp/db';
import { pruneStaleBackoff } from '@mxp/db/backoff';
import { DEFAULT_PRUNE_BATCH_SIZE, pruneBefore } from '@mxp/db/retention';
import {
  type AdminDeps,
  type AdminProgram,
  bindAdminProgram,
  checkOptionsApply,
  describeErrorsOf,
  formatPruneReport,
  GLOBAL_OPTIONS,
  type OptionValues,
  type ParsedCommandLine,
  PRUNE_OPTIONS,
  type PruneReport,
  pruneOptions,
  resultPrinter,
  runPrune,
  UsageError,
  wholeSeconds,
} from '@mxp/service-kit/cli';
import {
  ClientAdminError,
  type ClientView,
  createClient,
  getClient,
  listClients,
  type NewClient,
  rotateClientSecret,
  setClientStatus,
} from '../services/clients.js';
import {
  formatClientDetails,
  formatClientTable,
  formatCreatedClient,
  formatRotatedSecret,
  formatStatusChange,
} from './format.js';

export { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '@mxp/service-kit/cli';

/** What a command needs from its surroundings. */
export interface AdminCommandDeps extends AdminDeps {
  db: PrismaClient;
  /** Key of the client-secret hashes (CLIENT_SECRET_PEPPER). */
  pepper: string;
  /** Grace of the previous secret when `rotate-secret` has no `--grace`. */
  rotationGraceSeconds: number;
  /** Default age, in days, of the token audit rows `prune` deletes (RETENTION_DAYS). */
  retentionDays: number;
  /** BACKOFF_RESET_SECONDS: a backoff row without failure or lock for this long is forgotten, so `prune` deletes it. */
  backoffResetSeconds: number;
  /** The clock (tests fix it to check the cutoff exactly). */
  now?: () => Date;
}

/**
 * A revoked token's row is kept this long past the token's `exp`: the token is refused as expired from `exp` on,
 * but a replica whose clock lags would still accept it without the row.
 */
export const REVOKED_TOKEN_KEEP_AFTER_EXPIRY_MS = 5 * 60_000;

export const PROGRAM_NAME = 'otherclient-admin';

export const USAGE = `Usage: otherclient-admin <command> [options]

Administration of the API clients of the otherclient service.

Commands:
  clients create --name NAME [--scopes a,b] [--audience AUD] [--ttl SECONDS]
                                  create a client; prints its id and secret (shown once)
  clients list                    every client: id, name, status, scopes, audience, ttl, last use
  clients show ID                 one client's settings and history
  clients rotate-secret ID [--grace SECONDS]
                                  issue a new secret (shown once); the old one keeps working for
                                  the grace period (default 86400 s, 0 = stops at once, max 30 days)
  clients disable ID              refuse the client's token requests from now on
  clients enable ID               allow them again
  prune [--older-than-days N] [--batch-size N]
                                  delete token audit rows older than N days (default RETENTION_DAYS,
                                  90), revocations of tokens expired over 5 minutes ago and forgotten
                                  brute-force backoff rows, in short batches (no table lock)
  help                            this text

Options:
  --scopes a,b       scopes the client may request (comma-separated; default: none)
  --audience AUD     "aud" of its tokens (default: the service's audience)
  --ttl SECONDS      lifetime of its tokens, 60 to 86400 (default 3600)
  --older-than-days N  rows created more than N days ago are deleted, 1 to 36500 (default RETENTION_DAYS)
  --batch-size N     rows per DELETE (each its own transaction), 1 to 100000 (default 5000)
  --json             print exactly one JSON object on stdout (errors: one JSON object on stderr)
  --actor NAME       who is recorded in the admin audit (default: the operating-system user)
  -h, --help         this text

Environment: DATABASE_URL (required), CLIENT_SECRET_PEPPER or CLIENT_SECRET_PEPPER_FILE (required in production;
development uses the pepper generated in DATA_DIR, shared with \`pnpm dev\`); RETENTION_DAYS and
BACKOFF_RESET_SECONDS (prune).
Exit codes: 0 success, 1 refused or failed (unknown client, invalid value, configuration, database), 2 usage error.`;

const OPTIONS = {
  ...GLOBAL_OPTIONS,
  name: { type: 'string' },
  scopes: { type: 'string', multiple: true },
  audience: { type: 'string' },
  ttl: { type: 'string' },
  grace: { type: 'string' },
  ...PRUNE_OPTIONS,
} as const;

type Options = typeof OPTIONS;
type OptionName = Exclude<keyof Options, keyof typeof GLOBAL_OPTIONS>;
type Values = OptionValues<Options>;

const SUBCOMMANDS = {
  create: { id: false, options: ['name', 'scopes', 'audience', 'ttl'] },
  list: { id: false, options: [] },
  show: { id: true, options: [] },
  'rotate-secret': { id: true, options: ['grace'] },
  disable: { id: true, options: [] },
  enable: { id: true, options: [] },
} as const satisfies Record<string, { id: boolean; options: readonly OptionName[] }>;

type Subcommand = keyof typeof SUBCOMMANDS;

/** A command line understood. */
export type AdminCommand =
  | { name: 'create'; input: NewClient }
  | { name: 'list' }
  | { name: 'show' | 'disable' | 'enable'; clientId: string }
  | { name: 'rotate-secret'; clientId: string; graceSeconds: number | undefined }
  | { name: 'prune'; olderThanDays: number | undefined; batchSize: number | undefined };

export const PROGRAM: AdminProgram<Options, AdminCommand> = {
  name: PROGRAM_NAME,
  usage: USAGE,
  options: OPTIONS,
  toCommand,
  describeDomainError: describeErrorsOf(ClientAdminError),
  schemaDescription: 'the otherclient tables or columns',
};

export type ParsedAdminArgs = ParsedCommandLine<AdminCommand>;

/** PROGRAM's command-line functions: parseAdminArgs, runAdminCommand, writeParseOutcome and reportError. */
export const CLI = bindAdminProgram(PROGRAM, execute);
export const { parseAdminArgs, runAdminCommand, writeParseOutcome, reportError } = CLI;

async function execute(command: AdminCommand, json: boolean, deps: AdminCommandDeps): Promise<void> {
  const print = resultPrinter(json, deps.out);
  switch (command.name) {
    case 'create': {
      const { client, clientSecret } = await createClient(deps.db, deps.pepper, command.input, deps.actor);
      print(withSecret(client, clientSecret), formatCreatedClient(client, clientSecret));
      return;
    }
    case 'list': {
      const clients = await listClients(deps.db);
      print({ clients }, formatClientTable(clients));
      return;
    }
    case 'show': {
      const client = await getClient(deps.db, command.clientId);
      print(client, formatClientDetails(client));
      return;
    }
    case 'rotate-secret': {
      const graceSeconds = command.graceSeconds ?? deps.rotationGraceSeconds;
      const { client, clientSecret } = await rotateClientSecret(
        deps.db,
        deps.pepper,
        command.clientId,
        graceSeconds,
        deps.actor,
      );
      print(
        { ...withSecret(client, clientSecret), graceSeconds },
        formatRotatedSecret(client, clientSecret, graceSeconds),
      );
      return;
    }
    case 'disable':
    case 'enable': {
      const status = command.name === 'disable' ? 'disabled' : 'active';
      const client = await setClientStatus(deps.db, command.clientId, status, deps.actor);
      print(client, formatStatusChange(client));
      return;
    }
    case 'prune': {
      const report = await prune(command, deps);
      print(report, formatPruneReport(report));
      return;
    }
  }
}

/** `prune`: one table after the other, each in batches (see @mxp/db/retention for why batches). */
function prune(command: Extract<AdminCommand, { name: 'prune' }>, deps: AdminCommandDeps): Promise<PruneReport> {
  const defaults = { retentionDays: deps.retentionDays, batchSize: DEFAULT_PRUNE_BATCH_SIZE, now: deps.now?.() };
  return runPrune(command, defaults, async ({ now, cutoff, batchSize }) => ({
    'otherclient.token_audit': await pruneBefore(deps.db, 'otherclient.token_audit', cutoff, batchSize),
    'otherclient.revoked_tokens': await pruneBefore(
      deps.db,
      'otherclient.revoked_tokens',
      new Date(now.getTime() - REVOKED_TOKEN_KEEP_AFTER_EXPIRY_MS),
      batchSize,
    ),
    'otherclient.client_backoff': await pruneStaleBackoff(
      deps.db,
      'otherclient.client_backoff',
      deps.backoffResetSeconds,
      batchSize,
      now,
    ),
  }));
}

function withSecret(client: ClientView, clientSecret: string) {
  const { clientId, ...settings } = client;
  return { clientId, clientSecret, ...settings };
}

function toCommand(positionals: readonly string[], values: Values): AdminCommand {
  const [group, sub, ...rest] = positionals;
  if (group === 'prune') {
    checkOptionsApply(values, ['older-than-days', 'batch-size'], 'prune');
    if (sub !== undefined) throw new UsageError(`unexpected argument "${sub}" for "prune"`);
    return { name: 'prune', ...pruneOptions(values) };
  }
  if (group !== 'clients') throw new UsageError(`unknown command "${group}"`);
  if (sub === undefined) {
    throw new UsageError(`missing subcommand: clients ${Object.keys(SUBCOMMANDS).join(' | ')}`);
  }
  if (!Object.hasOwn(SUBCOMMANDS, sub)) throw new UsageError(`unknown command "clients ${sub}"`);
  const name = sub as Subcommand;
  const spec: { id: boolean; options: readonly OptionName[] } = SUBCOMMANDS[name];
  checkOptionsApply(values, spec.options, `clients ${name}`);

  const [clientId, ...extra] = rest;
  if (spec.id && (clientId === undefined || clientId === '')) {
    throw new UsageError(`missing client id: clients ${name} ID`);
  }
  const unexpected = spec.id ? extra : rest;
  if (unexpected.length > 0) throw new UsageError(`unexpected argument "${unexpected[0]}" for "clients ${name}"`);

  switch (name) {
    case 'create': {
      if (values.name === undefined) throw new UsageError('missing --name: clients create --name NAME');
      return {
        name,
        input: {
          name: values.name,
          scopes: (values.scopes ?? [])
            .flatMap((list) => list.split(','))
            .map((scope) => scope.trim())
            .filter(Boolean),
          audience: values.audience ?? null,
          tokenTtlSeconds: values.ttl === undefined ? undefined : wholeSeconds('ttl', values.ttl),
        },
      };
    }
    case 'list':
      return { name };
    case 'rotate-secret':
      return {
        name,
        clientId: clientId as string,
        graceSeconds: values.grace === undefined ? undefined : wholeSeconds('grace', values.grace),
      };
    default:
      return { name, clientId: clientId as string };
  }
}
