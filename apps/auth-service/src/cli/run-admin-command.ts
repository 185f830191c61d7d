// The auth admin CLI's commands, independent of the process: argv in, lines out, exit code back (tests run it
// in-process). The generic plumbing (parsing, help, errors, exit codes) is in @mxp/service-kit/cli.
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
import { AuthAdminError, createApplication, listApplications, type NewApplication } from '../services/applications.js';
import type { PasswordHashParams } from '../services/passwords.js';
import {
  createUser,
  disableUser,
  enableUser,
  generatePassword,
  listSessions,
  revokeSession,
  setPassword,
  type UserView,
} from '../services/users.js';
import {
  formatApplicationTable,
  formatCreatedApplication,
  formatCreatedUser,
  formatPasswordSet,
  formatSessionRevoked,
  formatSessionTable,
  formatUserStatus,
} from './format.js';

export { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '@mxp/service-kit/cli';

/** What a command needs from its surroundings. */
export interface AdminCommandDeps extends AdminDeps {
  db: PrismaClient;
  /** argon2id cost of new password hashes (PASSWORD_HASH_MEMORY_KIB, _ITERATIONS, _PARALLELISM). */
  passwordHashParams: PasswordHashParams;
  /** stdin, for `--password-stdin` (only its first line is used). */
  readStdin: () => Promise<string>;
  /** Default age, in days, of the rows `prune` deletes (RETENTION_DAYS). */
  retentionDays: number;
  /** BACKOFF_RESET_SECONDS: a backoff row without failure or lock for this long is forgotten, so `prune` deletes it. */
  backoffResetSeconds: number;
  /** The clock (tests fix it to check the cutoff exactly). */
  now?: () => Date;
}

export const PROGRAM_NAME = 'auth-admin';

export const USAGE = `Usage: auth-admin <command> [options]

Administration of the SSO (auth-service): applications, users and their sessions.

Commands:
  apps create --name NAME [--access-ttl S] [--idle S] [--absolute S] [--rotation on|off]
                                  create an application; prints its id and session policy
  apps list                       every application and its session policy
  users create --username USER [--email EMAIL] [--password-stdin]
                                  create a user; without --password-stdin a random password is
                                  generated and printed (shown once)
  users disable USER              refuse the user's sign-in and revoke all their sessions
  users enable USER               allow the user to sign in again
  users set-password USER [--password-stdin]
                                  set a new password (generated and shown once without
                                  --password-stdin) and revoke all the user's sessions
  sessions list --user USER       the user's active sessions and those ended in the last 30 days
  sessions revoke ID              end one session (its refresh and access tokens stop working)
  prune [--older-than-days N] [--batch-size N]
                                  delete sign-in attempts and auth logs older than N days (default
                                  RETENTION_DAYS, 90) and forgotten brute-force backoff rows, in
                                  short batches (no table lock: the service keeps running)
  help                            this text

Options:
  --access-ttl S     lifetime of access tokens, 60 to 86400 s (default 900)
  --idle S           a session unused for this long ends, 60 to 604800 s (default 1800)
  --absolute S       a session ends this long after sign-in, 300 to 2592000 s (default 43200);
                     at least --idle and --access-ttl
  --rotation on|off  a refresh token is exchanged for a new one at each use (default on)
  --password-stdin   read the password from the first line of stdin (pipe it in; 8 to 1024
                     characters; leading and trailing spaces are part of it)
  --older-than-days N  rows created more than N days ago are deleted, 1 to 36500 (default RETENTION_DAYS)
  --batch-size N     rows per DELETE (each its own transaction), 1 to 100000 (default 5000)
  --json             print exactly one JSON object on stdout (errors: one JSON object on stderr)
  --actor NAME       who is recorded in the admin audit (default: the operating-system user)
  -h, --help         this text

Usernames and emails are stored lower-cased; a username has 1 to 100 characters among a-z 0-9 . _ @ -.
Environment: DATABASE_URL (required); PASSWORD_HASH_MEMORY_KIB, PASSWORD_HASH_ITERATIONS and
PASSWORD_HASH_PARALLELISM (argon2id cost, as the service); RETENTION_DAYS and BACKOFF_RESET_SECONDS (prune).
Exit codes: 0 success, 1 refused or failed (unknown user/session, invalid value, name taken, configuration,
database), 2 usage error.`;

const OPTIONS = {
  ...GLOBAL_OPTIONS,
  name: { type: 'string' },
  'access-ttl': { type: 'string' },
  idle: { type: 'string' },
  absolute: { type: 'string' },
  rotation: { type: 'string' },
  username: { type: 'string' },
  email: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  user: { type: 'string' },
  ...PRUNE_OPTIONS,
} as const;

type Options = typeof OPTIONS;
type OptionName = Exclude<keyof Options, keyof typeof GLOBAL_OPTIONS>;
type Values = OptionValues<Options>;

interface CommandSpec {
  /** The positional argument the command takes, as named in messages. */
  argument?: 'USER' | 'ID';
  options: readonly OptionName[];
}

const COMMANDS = {
  apps: {
    create: { options: ['name', 'access-ttl', 'idle', 'absolute', 'rotation'] },
    list: { options: [] },
  },
  users: {
    create: { options: ['username', 'email', 'password-stdin'] },
    disable: { argument: 'USER', options: [] },
    enable: { argument: 'USER', options: [] },
    'set-password': { argument: 'USER', options: ['password-stdin'] },
  },
  sessions: {
    list: { options: ['user'] },
    revoke: { argument: 'ID', options: [] },
  },
} as const satisfies Record<string, Record<string, CommandSpec>>;

/** A command line understood. */
export type AdminCommand =
  | { name: 'apps create'; input: NewApplication }
  | { name: 'apps list' }
  | { name: 'users create'; username: string; email: string | undefined; passwordFromStdin: boolean }
  | { name: 'users disable' | 'users enable'; username: string }
  | { name: 'users set-password'; username: string; passwordFromStdin: boolean }
  | { name: 'sessions list'; username: string }
  | { name: 'sessions revoke'; sessionId: string }
  | { name: 'prune'; olderThanDays: number | undefined; batchSize: number | undefined };

export const PROGRAM: AdminProgram<Options, AdminCommand> = {
  name: PROGRAM_NAME,
  usage: USAGE,
  options: OPTIONS,
  toCommand,
  describeDomainError: describeErrorsOf(AuthAdminError),
  schemaDescription: 'the auth tables or columns',
};

export type ParsedAdminArgs = ParsedCommandLine<AdminCommand>;

/** PROGRAM's command-line functions: parseAdminArgs, runAdminCommand, writeParseOutcome and reportError. */
export const CLI = bindAdminProgram(PROGRAM, execute);
export const { parseAdminArgs, runAdminCommand, writeParseOutcome, reportError } = CLI;

async function execute(command: AdminCommand, json: boolean, deps: AdminCommandDeps): Promise<void> {
  const print = resultPrinter(json, deps.out);
  switch (command.name) {
    case 'apps create': {
      const application = await createApplication(deps.db, command.input, deps.actor);
      print(application, formatCreatedApplication(application));
      return;
    }
    case 'apps list': {
      const applications = await listApplications(deps.db);
      print({ applications }, formatApplicationTable(applications));
      return;
    }
    case 'users create': {
      const { password, generated } = await obtainPassword(command.passwordFromStdin, deps);
      const user = await createUser(
        deps.db,
        deps.passwordHashParams,
        { username: command.username, email: command.email, password },
        deps.actor,
      );
      const shown = generated ? password : undefined;
      print(withPassword(user, shown), formatCreatedUser(user, shown));
      return;
    }
    case 'users disable': {
      const change = await disableUser(deps.db, command.username, deps.actor);
      print(
        { ...change.user, sessionsRevoked: change.sessionsRevoked },
        formatUserStatus(change.user, change.sessionsRevoked),
      );
      return;
    }
    case 'users enable': {
      const user = await enableUser(deps.db, command.username, deps.actor);
      print(user, formatUserStatus(user));
      return;
    }
    case 'users set-password': {
      const { password, generated } = await obtainPassword(command.passwordFromStdin, deps);
      const change = await setPassword(deps.db, deps.passwordHashParams, command.username, password, deps.actor);
      const shown = generated ? password : undefined;
      print(
        { ...withPassword(change.user, shown), sessionsRevoked: change.sessionsRevoked },
        formatPasswordSet(change, shown),
      );
      return;
    }
    case 'sessions list': {
      const { user, sessions } = await listSessions(deps.db, command.username);
      print({ user, sessions }, formatSessionTable(user, sessions));
      return;
    }
    case 'sessions revoke': {
      const { session, revoked } = await revokeSession(deps.db, command.sessionId, deps.actor);
      print({ ...session, revokedNow: revoked }, formatSessionRevoked(session, revoked));
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
    'auth.auth_attempts': await pruneBefore(deps.db, 'auth.auth_attempts', cutoff, batchSize),
    'auth.auth_logs': await pruneBefore(deps.db, 'auth.auth_logs', cutoff, batchSize),
    'auth.credential_backoff': await pruneStaleBackoff(
      deps.db,
      'auth.credential_backoff',
      deps.backoffResetSeconds,
      batchSize,
      now,
    ),
  }));
}

/** The password from the first line of stdin, or a generated one (to be shown once). */
async function obtainPassword(
  fromStdin: boolean,
  deps: Pick<AdminCommandDeps, 'readStdin'>,
): Promise<{ password: string; generated: boolean }> {
  if (!fromStdin) return { password: generatePassword(), generated: true };
  const password = (await deps.readStdin()).split('\n', 1)[0]?.replace(/\r$/, '') ?? '';
  if (password === '') {
    throw new AuthAdminError(
      'INVALID_INPUT',
      'no password on stdin: pipe it in (printf \'%s\\n\' "$PASSWORD" | auth-admin ...), or leave out --password-stdin to generate one',
    );
  }
  return { password, generated: false };
}

/** The JSON of a user, with `password` only when the CLI generated it. */
function withPassword(user: UserView, password: string | undefined) {
  const { userId, ...rest } = user;
  return password === undefined ? { userId, ...rest } : { userId, password, ...rest };
}

function toCommand(positionals: readonly string[], values: Values): AdminCommand {
  const [group, sub, ...rest] = positionals;
  if (group === 'prune') {
    checkOptionsApply(values, ['older-than-days', 'batch-size'], 'prune');
    if (sub !== undefined) throw new UsageError(`unexpected argument "${sub}" for "prune"`);
    return { name: 'prune', ...pruneOptions(values) };
  }
  if (group === undefined || !Object.hasOwn(COMMANDS, group)) throw new UsageError(`unknown command "${group}"`);
  const subcommands: Record<string, CommandSpec> = COMMANDS[group as keyof typeof COMMANDS];
  if (sub === undefined) throw new UsageError(`missing subcommand: ${group} ${Object.keys(subcommands).join(' | ')}`);
  const spec = Object.hasOwn(subcommands, sub) ? subcommands[sub] : undefined;
  if (spec === undefined) throw new UsageError(`unknown command "${group} ${sub}"`);
  const label = `${group} ${sub}`;
  checkOptionsApply(values, spec.options, label);

  const [argument, ...extra] = rest;
  if (spec.argument !== undefined && (argument === undefined || argument.trim() === '')) {
    throw new UsageError(`missing ${spec.argument === 'USER' ? 'username' : 'session id'}: ${label} ${spec.argument}`);
  }
  const unexpected = spec.argument === undefined ? rest : extra;
  if (unexpected.length > 0) throw new UsageError(`unexpected argument "${unexpected[0]}" for "${label}"`);

  switch (label) {
    case 'apps create':
      if (values.name === undefined) throw new UsageError('missing --name: apps create --name NAME');
      return {
        name: label,
        input: {
          name: values.name,
          accessTokenTtlSeconds: optionalSeconds('access-ttl', values['access-ttl']),
          idleTimeoutSeconds: optionalSeconds('idle', values.idle),
          absoluteTimeoutSeconds: optionalSeconds('absolute', values.absolute),
          rotateRefreshTokens: rotationOption(values.rotation),
        },
      };
    case 'apps list':
      return { name: label };
    case 'users create':
      if (values.username === undefined) throw new UsageError('missing --username: users create --username USER');
      return {
        name: label,
        username: values.username,
        email: values.email,
        passwordFromStdin: values['password-stdin'] === true,
      };
    case 'users disable':
    case 'users enable':
      return { name: label, username: argument as string };
    case 'users set-password':
      return { name: label, username: argument as string, passwordFromStdin: values['password-stdin'] === true };
    case 'sessions list':
      if (values.user === undefined || values.user.trim() === '') {
        throw new UsageError('missing --user: sessions list --user USER');
      }
      return { name: label, username: values.user };
    case 'sessions revoke':
      return { name: label, sessionId: (argument as string).trim() };
    default:
      throw new UsageError(`unknown command "${label}"`);
  }
}

function optionalSeconds(option: string, raw: string | undefined): number | undefined {
  return raw === undefined ? undefined : wholeSeconds(option, raw);
}

function rotationOption(raw: string | undefined): boolean | undefined {
  if (raw === undefined) return undefined;
  const value = raw.trim().toLowerCase();
  if (value === 'on') return true;
  if (value === 'off') return false;
  throw new UsageError(`--rotation must be "on" or "off", got "${raw}"`);
}
