// A toy program through the shared plumbing: parsing, help, usage errors, `--actor`, error reporting, exit codes.
import { describe, expect, it } from 'vitest';
import {
  type AdminDeps,
  type AdminProgram,
  bindAdminProgram,
  checkOptionsApply,
  describeErrorsOf,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  GLOBAL_OPTIONS,
  resultPrinter,
  UsageError,
  wholeSeconds,
} from '../../src/cli/admin-cli.js';
import { ConfigError } from '../../src/config.js';

class ToyError extends Error {
  readonly code = 'TOY_REFUSED';
}

const OPTIONS = { ...GLOBAL_OPTIONS, wait: { type: 'string' } } as const;

type ToyCommand =
  | { name: 'greet'; who: string }
  | { name: 'sleep'; seconds: number }
  | { name: 'fail'; error: unknown };

const PROGRAM: AdminProgram<typeof OPTIONS, ToyCommand> = {
  name: 'toy-admin',
  usage: 'Usage: toy-admin <command>',
  options: OPTIONS,
  toCommand: (positionals, values) => {
    const [name, argument] = positionals;
    checkOptionsApply(values, name === 'sleep' ? ['wait'] : [], String(name));
    if (name === 'greet') return { name, who: argument ?? 'world' };
    if (name === 'sleep') return { name, seconds: wholeSeconds('wait', values.wait ?? '0') };
    if (name === 'fail') {
      const errors: Record<string, unknown> = {
        toy: new ToyError('refused by the toy'),
        config: new ConfigError(['DATABASE_URL is required']),
        missing: Object.assign(new Error('relation missing'), { code: 'P2021' }),
        other: new Error('boom\n    at somewhere'),
      };
      return { name, error: errors[argument ?? 'other'] };
    }
    throw new UsageError(`unknown command "${name}"`);
  },
  describeDomainError: describeErrorsOf(ToyError),
  schemaDescription: 'the toy tables',
};

const CLI = bindAdminProgram(PROGRAM, async (command, json, deps: AdminDeps) => {
  if (command.name === 'fail') throw command.error;
  const text = command.name === 'greet' ? `hello ${command.who} from ${deps.actor}` : `slept ${command.seconds} s`;
  resultPrinter(json, deps.out)({ text }, [text, '(done)']);
});

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await CLI.runAdminCommand(argv, {
    actor: 'os-user',
    out: (line) => out.push(line),
    err: (line) => err.push(line),
  });
  return { code, out, err };
}

describe('bindAdminProgram', () => {
  it('runs a command, with the actor of the deps unless --actor overrides it', async () => {
    expect(await run(['greet', 'you'])).toEqual({
      code: EXIT_OK,
      out: ['hello you from os-user', '(done)'],
      err: [],
    });
    expect(await run(['greet', '--actor', ' bob ', '--json'])).toEqual({
      code: EXIT_OK,
      out: [JSON.stringify({ text: 'hello world from bob' })],
      err: [],
    });
  });

  it('prints the usage for help and -h, on stdout', async () => {
    expect(await run(['help'])).toEqual({ code: EXIT_OK, out: [PROGRAM.usage], err: [] });
    expect(await run(['greet', '--bogus', '-h'])).toEqual({ code: EXIT_OK, out: [PROGRAM.usage], err: [] });
    expect(await run(['--help', '--json'])).toEqual({
      code: EXIT_OK,
      out: [JSON.stringify({ usage: PROGRAM.usage })],
      err: [],
    });
  });

  it('reports usage errors in one line (exit 2), with the usage when no command is given', async () => {
    expect(await run([])).toEqual({
      code: EXIT_USAGE,
      out: [],
      err: [`toy-admin: no command given\n\n${PROGRAM.usage}`],
    });
    for (const [argv, message] of [
      [['bogus'], 'unknown command "bogus"'],
      [['greet', '--wait', '1'], 'option --wait does not apply to "greet"'],
      [['sleep', '--wait', 'soon'], '--wait must be a whole number of seconds, got "soon"'],
      [['sleep', '--wait'], 'option --wait needs a value (write --wait=VALUE for a value starting with "-")'],
      [['greet', '--nope'], 'unknown option --nope'],
      [['greet', '--actor', ''], '--actor must have 1 to 200 printable characters'],
    ] as const) {
      expect(await run([...argv])).toEqual({
        code: EXIT_USAGE,
        out: [],
        err: [`toy-admin: ${message} (run with --help for usage)`],
      });
      expect(await run([...argv, '--json'])).toEqual({
        code: EXIT_USAGE,
        out: [],
        err: [JSON.stringify({ error: { code: 'USAGE', message } })],
      });
    }
  });

  it('reports domain, configuration, schema and unexpected failures in one line (exit 1)', async () => {
    for (const [which, code, message, extra] of [
      ['toy', 'TOY_REFUSED', 'refused by the toy', {}],
      [
        'config',
        'CONFIG_INVALID',
        'Invalid configuration: DATABASE_URL is required',
        { problems: ['DATABASE_URL is required'] },
      ],
      [
        'missing',
        'DATABASE_NOT_MIGRATED',
        'the database lacks the toy tables: apply the migrations (pnpm db:migrate)',
        {},
      ],
      ['other', 'INTERNAL', 'unexpected error: boom', {}],
    ] as const) {
      expect(await run(['fail', which])).toEqual({ code: EXIT_FAILURE, out: [], err: [`toy-admin: ${message}`] });
      expect(await run(['fail', which, '--json'])).toEqual({
        code: EXIT_FAILURE,
        out: [],
        err: [JSON.stringify({ error: { code, message, ...extra } })],
      });
    }
  });

  it('exposes the bound parser, parse outcome writer and error reporter', () => {
    expect(CLI.parseAdminArgs(['greet', 'x'])).toEqual({
      kind: 'command',
      command: { name: 'greet', who: 'x' },
      json: false,
      actor: undefined,
    });
    const err: string[] = [];
    const io = { out: () => {}, err: (line: string) => err.push(line) };
    expect(CLI.writeParseOutcome({ kind: 'usage-error', json: false, message: 'bad', showUsage: false }, io)).toBe(
      EXIT_USAGE,
    );
    expect(CLI.reportError(new ToyError('no'), false, io.err)).toBe(EXIT_FAILURE);
    expect(err).toEqual(['toy-admin: bad (run with --help for usage)', 'toy-admin: no']);
  });
});
