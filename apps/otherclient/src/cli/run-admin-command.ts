// The admin CLI's commands, independent of the process: argv in, lines out, exit code back (tests run it in-process).
import { parseArgs } from 'node:util';
import { isDatabaseUnavailableError, type PrismaClient } from '@mxp/db';
import { ConfigError } from '@mxp/service-kit';
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

/** Exit codes: success, a refused or failed operation, a command line that cannot be understood. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** What a command needs from its surroundings. */
export interface AdminCommandDeps {
  db: PrismaClient;
  /** Key of the client-secret hashes (CLIENT_SECRET_PEPPER). */
  pepper: string;
  /** Grace of the previous secret when `rotate-secret` has no `--grace`. */
  rotationGraceSeconds: number;
  /** Recorded in the admin audit unless `--actor` overrides it. */
  actor: string;
  /** Writes one line to stdout / stderr. */
  out: (line: string) => void;
  err: (line: string) => void;
}

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
  help                            this text

Options:
  --scopes a,b       scopes the client may request (comma-separated; default: none)
  --audience AUD     "aud" of its tokens (default: the service's audience)
  --ttl SECONDS      lifetime of its tokens, 60 to 86400 (default 3600)
  --json             print exactly one JSON object on stdout (errors: one JSON object on stderr)
  --actor NAME       who is recorded in the admin audit (default: the operating-system user)
  -h, --help         this text

Environment: DATABASE_URL (required), CLIENT_SECRET_PEPPER or CLIENT_SECRET_PEPPER_FILE (required in production;
development uses the pepper generated in DATA_DIR, shared with \`pnpm dev\`).
Exit codes: 0 success, 1 refused or failed (unknown client, invalid value, configuration, database), 2 usage error.`;

const OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  actor: { type: 'string' },
  name: { type: 'string' },
  scopes: { type: 'string', multiple: true },
  audience: { type: 'string' },
  ttl: { type: 'string' },
  grace: { type: 'string' },
} as const;

type OptionName = keyof typeof OPTIONS;

const GLOBAL_OPTIONS: readonly OptionName[] = ['json', 'help', 'actor'];

const SUBCOMMANDS = {
  create: { id: false, options: ['name', 'scopes', 'audience', 'ttl'] },
  list: { id: false, options: [] },
  show: { id: true, options: [] },
  'rotate-secret': { id: true, options: ['grace'] },
  disable: { id: true, options: [] },
  enable: { id: true, options: [] },
} as const satisfies Record<string, { id: boolean; options: readonly OptionName[] }>;

type Subcommand = keyof typeof SUBCOMMANDS;

const ACTOR_MAX_LENGTH = 200;

/** A command line understood. */
export type AdminCommand =
  | { name: 'create'; input: NewClient }
  | { name: 'list' }
  | { name: 'show' | 'disable' | 'enable'; clientId: string }
  | { name: 'rotate-secret'; clientId: string; graceSeconds: number | undefined };

export type ParsedAdminArgs =
  | { kind: 'command'; command: AdminCommand; json: boolean; actor: string | undefined }
  | { kind: 'help'; json: boolean }
  | { kind: 'usage-error'; json: boolean; message: string; showUsage: boolean };

class UsageError extends Error {}

/** Parses a command line (without `node` and the script); never throws. */
export function parseAdminArgs(argv: readonly string[]): ParsedAdminArgs {
  const beforeTerminator = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  const jsonRequested = beforeTerminator.includes('--json');
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    if (beforeTerminator.includes('--help') || beforeTerminator.includes('-h')) return { kind: 'help', json: false };
    return { kind: 'usage-error', json: jsonRequested, message: describeParseError(error), showUsage: false };
  }
  const { values, positionals } = parsed;
  const json = values.json === true;
  if (values.help === true || positionals[0] === 'help') return { kind: 'help', json };
  if (positionals.length === 0) {
    return { kind: 'usage-error', json, message: 'no command given', showUsage: true };
  }
  try {
    return { kind: 'command', command: toCommand(positionals, values), json, actor: actorOption(values.actor) };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return { kind: 'usage-error', json, message: error.message, showUsage: false };
  }
}

/**
 * Runs one admin command and returns the process exit code. Output goes through `deps.out` (results) and
 * `deps.err` (errors); with `--json`, stdout receives exactly one JSON object on success and nothing on failure.
 */
export async function runAdminCommand(argv: string[], deps: AdminCommandDeps): Promise<number> {
  const parsed = parseAdminArgs(argv);
  if (parsed.kind !== 'command') return writeParseOutcome(parsed, deps);
  try {
    await execute(parsed.command, parsed.json, { ...deps, actor: parsed.actor ?? deps.actor });
    return EXIT_OK;
  } catch (error) {
    return reportError(error, parsed.json, deps.err);
  }
}

/** Prints the help or a usage error; returns the exit code. */
export function writeParseOutcome(
  parsed: Exclude<ParsedAdminArgs, { kind: 'command' }>,
  io: Pick<AdminCommandDeps, 'out' | 'err'>,
): number {
  if (parsed.kind === 'help') {
    io.out(parsed.json ? JSON.stringify({ usage: USAGE }) : USAGE);
    return EXIT_OK;
  }
  if (parsed.json) {
    io.err(JSON.stringify({ error: { code: 'USAGE', message: parsed.message } }));
  } else if (parsed.showUsage) {
    io.err(`otherclient-admin: ${parsed.message}\n\n${USAGE}`);
  } else {
    io.err(`otherclient-admin: ${parsed.message} (run with --help for usage)`);
  }
  return EXIT_USAGE;
}

/** Reports a failure (domain, configuration, database or unexpected) on stderr, without stack; returns the exit code. */
export function reportError(error: unknown, json: boolean, err: (line: string) => void): number {
  const { code, message, extra } = describeError(error);
  err(json ? JSON.stringify({ error: { code, message, ...extra } }) : `otherclient-admin: ${message}`);
  return EXIT_FAILURE;
}

function describeError(error: unknown): { code: string; message: string; extra?: Record<string, unknown> } {
  if (error instanceof ClientAdminError) return { code: error.code, message: error.message };
  if (error instanceof ConfigError) {
    return { code: 'CONFIG_INVALID', message: error.message, extra: { problems: error.problems } };
  }
  if (isDatabaseUnavailableError(error)) {
    return {
      code: 'DATABASE_UNAVAILABLE',
      message: 'cannot reach the database: check DATABASE_URL and that PostgreSQL is running',
    };
  }
  const prismaCode = (error as { code?: unknown } | null)?.code;
  if (prismaCode === 'P2021' || prismaCode === 'P2022') {
    return {
      code: 'DATABASE_NOT_MIGRATED',
      message: 'the database lacks the otherclient tables or columns: apply the migrations (pnpm db:migrate)',
    };
  }
  const databaseDetail = describeDatabaseError(error);
  if (databaseDetail !== undefined) return { code: 'DATABASE_ERROR', message: `database error: ${databaseDetail}` };
  const detail = error instanceof Error ? firstLine(error.message) : String(error);
  return { code: 'INTERNAL', message: `unexpected error: ${detail}` };
}

/** PostgreSQL's own message (missing database, refused role, ...) rather than Prisma's multi-line invocation text. */
function describeDatabaseError(error: unknown): string | undefined {
  const e = error as { name?: unknown; message?: unknown; meta?: { driverAdapterError?: { cause?: unknown } } } | null;
  const cause = e?.meta?.driverAdapterError?.cause as { originalMessage?: unknown } | undefined;
  if (typeof cause?.originalMessage === 'string') return cause.originalMessage;
  if (typeof e?.name === 'string' && e.name.startsWith('PrismaClient') && typeof e.message === 'string') {
    return e.message
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .at(-1);
  }
  return undefined;
}

async function execute(command: AdminCommand, json: boolean, deps: AdminCommandDeps): Promise<void> {
  const print = (value: object, lines: string[]) => {
    if (json) deps.out(JSON.stringify(value));
    else for (const line of lines) deps.out(line);
  };
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
  }
}

function withSecret(client: ClientView, clientSecret: string) {
  const { clientId, ...settings } = client;
  return { clientId, clientSecret, ...settings };
}

function parseCommandLine(argv: readonly string[]) {
  return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
}

type OptionValues = ReturnType<typeof parseCommandLine>['values'];

function toCommand(positionals: readonly string[], values: OptionValues): AdminCommand {
  const [group, sub, ...rest] = positionals;
  if (group !== 'clients') throw new UsageError(`unknown command "${group}"`);
  if (sub === undefined) {
    throw new UsageError(`missing subcommand: clients ${Object.keys(SUBCOMMANDS).join(' | ')}`);
  }
  if (!Object.hasOwn(SUBCOMMANDS, sub)) throw new UsageError(`unknown command "clients ${sub}"`);
  const name = sub as Subcommand;
  const spec: { id: boolean; options: readonly OptionName[] } = SUBCOMMANDS[name];

  for (const option of Object.keys(values) as OptionName[]) {
    if (!GLOBAL_OPTIONS.includes(option) && !spec.options.includes(option)) {
      throw new UsageError(`option --${option} does not apply to "clients ${name}"`);
    }
  }
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

/** An integer option; its range is the domain's to check (so the message states the limits). */
function wholeSeconds(option: string, raw: string): number {
  if (!/^-?\d+$/.test(raw.trim())) throw new UsageError(`--${option} must be a whole number of seconds, got "${raw}"`);
  return Number(raw.trim());
}

function actorOption(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const actor = raw.trim();
  const printable = [...actor].every((char) => (char.codePointAt(0) ?? 0) >= 0x20 && char !== '\u007f');
  if (actor.length === 0 || actor.length > ACTOR_MAX_LENGTH || !printable) {
    throw new UsageError(`--actor must have 1 to ${ACTOR_MAX_LENGTH} printable characters`);
  }
  return actor;
}

/** parseArgs' messages, reduced to one line naming the option. */
function describeParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const unknown = /^Unknown option '([^']+)'/.exec(message);
  if (unknown) return `unknown option ${unknown[1]}`;
  const option = /^Option '(?:-\w, )?(--[\w-]+)/.exec(message)?.[1];
  if (option && /argument missing|ambiguous/.test(message)) {
    return `option ${option} needs a value (write ${option}=VALUE for a value starting with "-")`;
  }
  if (option && /does not take an argument/.test(message)) return `option ${option} takes no value`;
  return firstLine(message);
}

function firstLine(message: string): string {
  return (
    message
      .split('\n')
      .map((line) => line.trim())
      .find(Boolean) ?? 'unknown error'
  );
}
