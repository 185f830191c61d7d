// What an admin CLI needs whatever it administers: the command line (node:util parseArgs, strict), help and usage
// errors, `--json` and `--actor`, the operating-system user, error reporting and exit codes, reading a secret from
// stdin, and plain-text output helpers. Nothing here knows a particular service: each service's admin CLI defines
// its program (name, usage, options, commands, domain errors) and leaves the rest to this module
// (`@mxp/service-kit/cli`).
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { createPrismaClient, isDatabaseUnavailableError, type PrismaClient } from '@mxp/db';
import { ConfigError } from '../config.js';

/** Exit codes: success, a refused or failed operation, a command line that cannot be understood. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Where a command writes: one line at a time to stdout (results) and stderr (errors). */
export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** A command line that cannot be understood (exit 2). */
export class UsageError extends Error {}

/** Input the command read (stdin) that cannot be used (exit 1, code INVALID_INPUT). */
export class CliInputError extends Error {
  readonly code = 'INVALID_INPUT';
}

/** parseArgs' option definitions (node:util does not export the type). */
export type ParseArgsOptionsConfig = Record<
  string,
  { type: 'string' | 'boolean'; short?: string; multiple?: boolean; default?: never }
>;

/** A failure as reported to the operator: a stable code and one line of message. */
export interface ErrorDescription {
  code: string;
  message: string;
  extra?: Record<string, unknown>;
}

/** The options every admin CLI has; a program's options must include them. */
export const GLOBAL_OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  actor: { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

type WithGlobals = typeof GLOBAL_OPTIONS & ParseArgsOptionsConfig;

/** The option values parseArgs gives for `Options` (strict, no defaults: an option not given is absent). */
export type OptionValues<Options extends ParseArgsOptionsConfig> = {
  -readonly [Name in keyof Options]?: Options[Name]['multiple'] extends true
    ? Array<OptionValue<Options[Name]>>
    : OptionValue<Options[Name]>;
};

type OptionValue<Option extends ParseArgsOptionsConfig[string]> = Option['type'] extends 'string' ? string : boolean;

/** One admin CLI: its name (prefix of error lines), help text, options and commands. */
export interface AdminProgram<Options extends WithGlobals, Command> {
  name: string;
  usage: string;
  options: Options;
  /** Turns positionals and options into a command, or throws a {@link UsageError}. */
  toCommand: (positionals: readonly string[], values: OptionValues<Options>) => Command;
  /** The program's own refusals (unknown id, invalid value, ...), or undefined for anything else. */
  describeDomainError: (error: unknown) => ErrorDescription | undefined;
  /** What the database lacks when it is not migrated, e.g. "the auth tables or columns". */
  schemaDescription: string;
}

export type ParsedCommandLine<Command> =
  | { kind: 'command'; command: Command; json: boolean; actor: string | undefined }
  | { kind: 'help'; json: boolean }
  | { kind: 'usage-error'; json: boolean; message: string; showUsage: boolean };

/** Parses a command line (without `node` and the script); never throws. */
export function parseCommandLine<Options extends WithGlobals, Command>(
  program: AdminProgram<Options, Command>,
  argv: readonly string[],
): ParsedCommandLine<Command> {
  const beforeTerminator = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  const jsonRequested = beforeTerminator.includes('--json');
  let parsed: { values: OptionValues<Options>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: program.options, allowPositionals: true, strict: true }) as {
      values: OptionValues<Options>;
      positionals: string[];
    };
  } catch (error) {
    if (beforeTerminator.includes('--help') || beforeTerminator.includes('-h')) return { kind: 'help', json: false };
    return { kind: 'usage-error', json: jsonRequested, message: describeParseError(error), showUsage: false };
  }
  const { values, positionals } = parsed;
  const globals = values as { json?: boolean; help?: boolean; actor?: string };
  const json = globals.json === true;
  if (globals.help === true || positionals[0] === 'help') return { kind: 'help', json };
  if (positionals.length === 0) return { kind: 'usage-error', json, message: 'no command given', showUsage: true };
  try {
    return {
      kind: 'command',
      command: program.toCommand(positionals, values),
      json,
      actor: actorOption(globals.actor),
    };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return { kind: 'usage-error', json, message: error.message, showUsage: false };
  }
}

/**
 * Parses `argv` and runs the command with `execute`, returning the exit code. Help goes to stdout; usage errors and
 * failures to stderr (with `--json`: one JSON object `{"error": {"code", "message"}}`), without stack traces.
 */
export async function runProgram<Options extends WithGlobals, Command>(
  program: AdminProgram<Options, Command>,
  argv: readonly string[],
  io: CliIo,
  execute: (command: Command, context: { json: boolean; actor: string | undefined }) => Promise<void>,
): Promise<number> {
  const parsed = parseCommandLine(program, argv);
  if (parsed.kind !== 'command') return writeParseOutcome(program, parsed, io);
  try {
    await execute(parsed.command, { json: parsed.json, actor: parsed.actor });
    return EXIT_OK;
  } catch (error) {
    return reportError(program, error, parsed.json, io.err);
  }
}

/** What a command needs from its surroundings, at the least: where to write and who is recorded in the audit. */
export interface AdminDeps extends CliIo {
  /** Recorded in the admin audit unless `--actor` overrides it. */
  actor: string;
}

/** A program's command-line functions, bound to it: what a service's admin CLI exports (tests run them in-process). */
export interface AdminCli<Command, Deps extends AdminDeps> {
  program: Pick<AdminProgram<WithGlobals, unknown>, 'name' | 'usage' | 'describeDomainError' | 'schemaDescription'>;
  /** Parses a command line (without `node` and the script); never throws. */
  parseAdminArgs: (argv: readonly string[]) => ParsedCommandLine<Command>;
  /**
   * Runs one admin command and returns the process exit code. Output goes through `deps.out` (results) and
   * `deps.err` (errors); with `--json`, stdout receives exactly one JSON object on success and nothing on failure.
   */
  runAdminCommand: (argv: readonly string[], deps: Deps) => Promise<number>;
  /** Prints the help or a usage error; returns the exit code. */
  writeParseOutcome: (parsed: Exclude<ParsedCommandLine<Command>, { kind: 'command' }>, io: CliIo) => number;
  /** Reports a failure (domain, configuration, database or unexpected) on stderr, without stack; returns the exit code. */
  reportError: (error: unknown, json: boolean, err: (line: string) => void) => number;
}

/** Binds `program` and the function executing its commands (`--actor`, when given, replaces `deps.actor`). */
export function bindAdminProgram<Options extends WithGlobals, Command, Deps extends AdminDeps>(
  program: AdminProgram<Options, Command>,
  execute: (command: Command, json: boolean, deps: Deps) => Promise<void>,
): AdminCli<Command, Deps> {
  return {
    program,
    parseAdminArgs: (argv) => parseCommandLine(program, argv),
    runAdminCommand: (argv, deps) =>
      runProgram(program, argv, deps, (command, { json, actor }) =>
        execute(command, json, { ...deps, actor: actor ?? deps.actor }),
      ),
    writeParseOutcome: (parsed, io) => writeParseOutcome(program, parsed, io),
    reportError: (error, json, err) => reportError(program, error, json, err),
  };
}

/** Prints a command's result: with `--json` the value as one JSON object, otherwise the human-readable lines. */
export function resultPrinter(
  json: boolean,
  out: (line: string) => void,
): (value: object, lines: readonly string[]) => void {
  return (value, lines) => {
    if (json) out(JSON.stringify(value));
    else for (const line of lines) out(line);
  };
}

/** Prints the help or a usage error; returns the exit code. */
export function writeParseOutcome(
  program: Pick<AdminProgram<WithGlobals, unknown>, 'name' | 'usage'>,
  parsed: Exclude<ParsedCommandLine<unknown>, { kind: 'command' }>,
  io: CliIo,
): number {
  if (parsed.kind === 'help') {
    io.out(parsed.json ? JSON.stringify({ usage: program.usage }) : program.usage);
    return EXIT_OK;
  }
  if (parsed.json) {
    io.err(JSON.stringify({ error: { code: 'USAGE', message: parsed.message } }));
  } else if (parsed.showUsage) {
    io.err(`${program.name}: ${parsed.message}\n\n${program.usage}`);
  } else {
    io.err(`${program.name}: ${parsed.message} (run with --help for usage)`);
  }
  return EXIT_USAGE;
}

/** Reports a failure (domain, configuration, database or unexpected) on stderr, without stack; returns the exit code. */
export function reportError(
  program: Pick<AdminProgram<WithGlobals, unknown>, 'name' | 'describeDomainError' | 'schemaDescription'>,
  error: unknown,
  json: boolean,
  err: (line: string) => void,
): number {
  const { code, message, extra } =
    program.describeDomainError(error) ?? describeError(error, program.schemaDescription);
  err(json ? JSON.stringify({ error: { code, message, ...extra } }) : `${program.name}: ${message}`);
  return EXIT_FAILURE;
}

/** A program's `describeDomainError` when its refusals are the instances of one error class with a stable code. */
export function describeErrorsOf(
  errorClass: abstract new (...args: never[]) => Error & { code: string },
): (error: unknown) => ErrorDescription | undefined {
  return (error) => (error instanceof errorClass ? { code: error.code, message: error.message } : undefined);
}

/** Configuration, database and unexpected failures, in one line each. */
export function describeError(error: unknown, schemaDescription: string): ErrorDescription {
  if (error instanceof CliInputError) return { code: error.code, message: error.message };
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
      message: `the database lacks ${schemaDescription}: apply the migrations (pnpm db:migrate)`,
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

/** Refuses options that do not apply to the command (parseArgs only knows the program's option list). */
export function checkOptionsApply(values: object, allowed: readonly string[], commandLabel: string): void {
  for (const option of Object.keys(values)) {
    if (!Object.hasOwn(GLOBAL_OPTIONS, option) && !allowed.includes(option)) {
      throw new UsageError(`option --${option} does not apply to "${commandLabel}"`);
    }
  }
}

/** An integer option; its range is the domain's to check (so the message states the limits). */
export function wholeSeconds(option: string, raw: string): number {
  if (!/^-?\d+$/.test(raw.trim())) throw new UsageError(`--${option} must be a whole number of seconds, got "${raw}"`);
  return Number(raw.trim());
}

const ACTOR_MAX_LENGTH = 200;

/** `--actor`: 1 to 200 printable characters. */
export function actorOption(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const actor = raw.trim();
  const printable = [...actor].every((char) => (char.codePointAt(0) ?? 0) >= 0x20 && char !== '\u007f');
  if (actor.length === 0 || actor.length > ACTOR_MAX_LENGTH || !printable) {
    throw new UsageError(`--actor must have 1 to ${ACTOR_MAX_LENGTH} printable characters`);
  }
  return actor;
}

/** parseArgs' messages, reduced to one line naming the option. */
export function describeParseError(error: unknown): string {
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

export function firstLine(message: string): string {
  return (
    message
      .split('\n')
      .map((line) => line.trim())
      .find(Boolean) ?? 'unknown error'
  );
}

/** The operating-system user running the command, recorded in the admin audit (`--actor` overrides it). */
export function osUser(env: NodeJS.ProcessEnv): string {
  try {
    const { username } = userInfo();
    if (username) return username;
  } catch {
    // A uid without a passwd entry (some containers): fall back to the environment.
  }
  return env.USER || env.USERNAME || 'unknown';
}

/** stdout/stderr of the process, one line per call. */
export const processIo: CliIo = {
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
};

/** Runs an entry point's `main` and sets the exit code; an error escaping `main` is reported like any other. */
export function runEntry(
  program: Pick<AdminProgram<WithGlobals, unknown>, 'name' | 'describeDomainError' | 'schemaDescription'>,
  main: () => Promise<number>,
): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.exitCode = reportError(program, error, process.argv.includes('--json'), processIo.err);
    },
  );
}

/** The database settings of a service's configuration (see BaseConfigProperties). */
export interface DatabaseSettings {
  DATABASE_URL: string;
  DATABASE_CONNECT_TIMEOUT_MS: number;
}

/**
 * The entry point of an admin CLI working on the database, for `process.argv` and `process.env`: help and usage
 * errors need no configuration or database; otherwise it loads the configuration, opens a pool of 2 connections
 * named after the program, runs the command with the deps `deps` returns (given the database, the configuration,
 * the process's stdout/stderr and the operating-system user as actor), closes the pool and sets the exit code.
 */
export function runDatabaseEntry<Config extends DatabaseSettings, Command, Deps extends AdminDeps>(
  cli: AdminCli<Command, Deps>,
  loadConfig: (env: NodeJS.ProcessEnv) => Config,
  deps: (db: PrismaClient, config: Config, base: AdminDeps) => Deps,
): void {
  runEntry(cli.program, async () => {
    const argv = process.argv.slice(2);
    const env = process.env;
    const parsed = cli.parseAdminArgs(argv);
    if (parsed.kind !== 'command') return cli.writeParseOutcome(parsed, processIo);

    let config: Config;
    try {
      config = loadConfig(env);
    } catch (error) {
      return cli.reportError(error, parsed.json, processIo.err);
    }
    const db = createPrismaClient(config.DATABASE_URL, {
      poolMax: 2,
      connectionTimeoutMillis: config.DATABASE_CONNECT_TIMEOUT_MS,
      applicationName: cli.program.name,
    });
    try {
      return await cli.runAdminCommand(argv, deps(db, config, { actor: osUser(env), ...processIo }));
    } finally {
      await db.$disconnect().catch(() => {});
    }
  });
}

const STDIN_LINE_MAX_BYTES = 64 * 1024;

/**
 * The first line of a piped stream (without its `\n` or `\r\n`), for secrets given with `--...-stdin`. Refuses a
 * terminal (the secret would be echoed), a line over 64 KiB and invalid UTF-8; stops reading at the first newline.
 */
export async function readFirstLine(
  stream: NodeJS.ReadableStream & { isTTY?: boolean },
  maxBytes: number = STDIN_LINE_MAX_BYTES,
): Promise<string> {
  if (stream.isTTY) {
    throw new CliInputError('stdin is a terminal: pipe the secret in, e.g. printf \'%s\\n\' "$SECRET" | ...');
  }
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk);
    const newline = buffer.indexOf(0x0a);
    chunks.push(newline === -1 ? buffer : buffer.subarray(0, newline));
    length += newline === -1 ? buffer.length : newline;
    if (length > maxBytes) throw new CliInputError(`the first line of stdin is longer than ${maxBytes} bytes`);
    if (newline !== -1) break;
  }
  let line: string;
  try {
    line = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new CliInputError('stdin is not valid UTF-8');
  }
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** Free text (names, user agents, ...) with control characters escaped, so it cannot drive the terminal. */
export function text(value: string): string {
  let out = '';
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    out += code < 0x20 || (code >= 0x7f && code <= 0x9f) ? `\\u${code.toString(16).padStart(4, '0')}` : char;
  }
  return out;
}

/** Aligned `label  value` lines, indented by two spaces. */
export function fields(entries: ReadonlyArray<readonly [string, string]>): string[] {
  const width = Math.max(...entries.map(([label]) => label.length));
  return entries.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`);
}

/** Rows (the first one the header) as space-aligned columns. */
export function table(rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

export function iso(date: Date): string {
  return date.toISOString();
}

/** An integer option within `[min, max]` (a value out of range is a usage error naming the limits). */
export function boundedInteger(option: string, raw: string, min: number, max: number): number {
  const value = raw.trim();
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${option} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return Number(value);
}

/** The options of the `prune` commands (history retention). */
export const PRUNE_OPTIONS = {
  'older-than-days': { type: 'string' },
  'batch-size': { type: 'string' },
} as const;

export const RETENTION_DAYS_MAX = 36_500;

/** `prune`'s options: days (undefined: RETENTION_DAYS) and rows per batch (undefined: the default). */
export function pruneOptions(values: { 'older-than-days'?: string | undefined; 'batch-size'?: string | undefined }): {
  olderThanDays: number | undefined;
  batchSize: number | undefined;
} {
  const days = values['older-than-days'];
  const batch = values['batch-size'];
  return {
    olderThanDays: days === undefined ? undefined : boundedInteger('older-than-days', days, 1, RETENTION_DAYS_MAX),
    batchSize: batch === undefined ? undefined : boundedInteger('batch-size', batch, 1, 100_000),
  };
}

/** What a `prune` command did: the cutoff and the rows deleted per table. */
export interface PruneReport {
  olderThanDays: number;
  cutoff: string;
  batchSize: number;
  deleted: Record<string, number>;
  total: number;
  seconds: number;
}

/** The window of a `prune` run: rows before `cutoff` go, `batchSize` per transaction. */
export interface PruneWindow {
  now: Date;
  cutoff: Date;
  batchSize: number;
}

/**
 * Runs a service's `prune` (`deleteRows` prunes its tables one after the other and returns the rows deleted per
 * table) over the window the command's options, or else the service's retention and the default batch, give; reports it.
 */
export async function runPrune(
  options: { olderThanDays?: number | undefined; batchSize?: number | undefined },
  defaults: { retentionDays: number; batchSize: number; now?: Date | undefined },
  deleteRows: (window: PruneWindow) => Promise<Record<string, number>>,
): Promise<PruneReport> {
  const started = performance.now();
  const now = defaults.now ?? new Date();
  const olderThanDays = options.olderThanDays ?? defaults.retentionDays;
  const batchSize = options.batchSize ?? defaults.batchSize;
  const cutoff = new Date(now.getTime() - olderThanDays * 86_400_000);
  const deleted = await deleteRows({ now, cutoff, batchSize });
  return {
    olderThanDays,
    cutoff: cutoff.toISOString(),
    batchSize,
    deleted,
    total: Object.values(deleted).reduce((sum, rows) => sum + rows, 0),
    seconds: (performance.now() - started) / 1000,
  };
}

export function formatPruneReport(report: PruneReport): string[] {
  return [
    `Deleted ${report.total} rows older than ${report.olderThanDays} days (before ${report.cutoff}), in batches of ${report.batchSize}:`,
    ...table([['table', 'rows'], ...Object.entries(report.deleted).map(([name, rows]) => [name, String(rows)])]).map(
      (line) => `  ${line}`,
    ),
    `in ${report.seconds.toFixed(1)} s`,
  ];
}
