import { createPrismaClient, type PrismaClient } from '@mxp/db';
import { createTestDatabase } from '@mxp/db/testing';
import { ConfigError } from '@mxp/service-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatApplicationTable } from '../../src/cli/format.js';
import { type AdminCommandDeps, reportError, runAdminCommand } from '../../src/cli/run-admin-command.js';
import { verifyPassword } from '../../src/services/passwords.js';
import { openSession } from '../../src/services/sessions.js';

const cheap = { memoryKib: 1024, iterations: 1, parallelism: 1 };
const UNKNOWN_ID = '01900000-0000-7000-8000-000000000000';

describe('runAdminCommand', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let db: PrismaClient;
  let counter = 0;
  beforeAll(async () => {
    database = await createTestDatabase();
    db = createPrismaClient(database.url);
  });
  afterAll(async () => {
    await db.$disconnect();
    await database.drop();
  });

  function uniqueName(prefix: string) {
    counter += 1;
    return `${prefix}${counter}`;
  }

  /** Runs a command in-process; `stdin` is what `--password-stdin` reads (reading it when absent fails the test). */
  async function run(argv: string[], options: { stdin?: string; deps?: Partial<AdminCommandDeps> } = {}) {
    const out: string[] = [];
    const err: string[] = [];
    let stdinReads = 0;
    const code = await runAdminCommand(argv, {
      db,
      passwordHashParams: cheap,
      actor: 'alice',
      readStdin: async () => {
        stdinReads += 1;
        if (options.stdin === undefined) throw new Error('stdin was read although the test gave none');
        return options.stdin;
      },
      retentionDays: 90,
      backoffResetSeconds: 900,
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      ...options.deps,
    });
    return { code, out, err, stdout: out.join('\n'), stderr: err.join('\n'), stdinReads };
  }

  /** Runs a `--json` command that must succeed: exactly one JSON object on stdout, nothing on stderr. */
  async function runJson(argv: string[], stdin?: string) {
    const result = await run([...argv, '--json'], { stdin });
    expect(result.err).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.out).toHaveLength(1);
    return JSON.parse(result.out[0] as string) as Record<string, unknown>;
  }

  async function passwordHashOf(username: string) {
    return (await db.user.findUniqueOrThrow({ where: { username } })).passwordHash;
  }

  async function signIn(userId: string, applicationId: string) {
    const application = await db.application.findUniqueOrThrow({ where: { id: applicationId } });
    const { session } = await openSession(
      db,
      { userId, application, deviceInfo: { os: 'linux' }, origin: { ip: '203.0.113.7', userAgent: 'Firefox/140' } },
      new Date(),
    );
    return session.id;
  }

  it('round trip: apps create → users create (stdin) → sessions list → revoke → set-password → disable', async () => {
    const app = await runJson([
      'apps',
      'create',
      '--name',
      'Intranet',
      '--access-ttl',
      '600',
      '--idle',
      '900',
      '--absolute',
      '3600',
      '--rotation',
      'off',
    ]);
    expect(app).toEqual({
      applicationId: expect.any(String),
      name: 'Intranet',
      status: 'active',
      accessTokenTtlSeconds: 600,
      idleTimeoutSeconds: 900,
      absoluteTimeoutSeconds: 3600,
      rotateRefreshTokens: false,
      createdAt: expect.any(String),
    });
    const applicationId = app.applicationId as string;
    expect((await runJson(['apps', 'list'])).applications).toContainEqual(app);

    // The password is the first line of stdin, with its spaces; nothing after it is used.
    const password = ' first-line secret ';
    const user = await runJson(
      ['users', 'create', '--username', 'Bob.Smith', '--email', 'Bob@Example.com', '--password-stdin'],
      `${password}\r\nsecond line\n`,
    );
    expect(user).toEqual({
      userId: expect.any(String),
      username: 'bob.smith',
      email: 'bob@example.com',
      status: 'active',
      createdAt: expect.any(String),
      passwordChangedAt: expect.any(String),
    });
    expect(user).not.toHaveProperty('password');
    expect(await verifyPassword(await passwordHashOf('bob.smith'), password)).toBe(true);
    const userId = user.userId as string;

    // Two devices signed in.
    const laptop = await signIn(userId, applicationId);
    const phone = await signIn(userId, applicationId);
    const listed = await runJson(['sessions', 'list', '--user', 'BOB.SMITH']);
    expect(listed.user).toMatchObject({ userId, username: 'bob.smith' });
    const sessions = listed.sessions as Array<Record<string, unknown>>;
    expect(sessions.map((session) => session.sessionId)).toEqual([phone, laptop]);
    expect(sessions[0]).toMatchObject({
      state: 'active',
      applicationId,
      applicationName: 'Intranet',
      ip: '203.0.113.7',
      userAgent: 'Firefox/140',
      deviceInfo: { os: 'linux' },
    });
    const human = await run(['sessions', 'list', '--user', 'bob.smith']);
    expect(human.out[0]).toBe(`Sessions of bob.smith (user id ${userId}), newest first:`);
    expect(human.out[1]).toMatch(/^ID\s+APPLICATION\s+STATE\s+CREATED\s+LAST SEEN\s+IP\s+USER AGENT$/);
    expect(human.out[2]).toMatch(
      new RegExp(`^${phone}\\s+Intranet\\s+active\\s+\\S+\\s+\\S+\\s+203\\.0\\.113\\.7\\s+Firefox/140$`),
    );

    // Revoke the laptop: reason admin; the phone stays.
    const revoked = await runJson(['sessions', 'revoke', laptop]);
    expect(revoked).toMatchObject({ sessionId: laptop, state: 'revoked', revokedReason: 'admin', revokedNow: true });
    const again = await run(['sessions', 'revoke', laptop]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/was already revoked at .* \(admin\); nothing changed\.$/);
    expect((await db.session.findUniqueOrThrow({ where: { id: phone } })).revokedAt).toBeNull();
    expect((await run(['sessions', 'list', '--user', 'bob.smith'])).stdout).toMatch(
      new RegExp(`${laptop}\\s+Intranet\\s+revoked \\(admin\\)`),
    );

    // New password from stdin: the phone's session ends.
    const changed = await runJson(['users', 'set-password', 'bob.smith', '--password-stdin'], 'second-secret\n');
    expect(changed).toMatchObject({ userId, sessionsRevoked: 1 });
    expect(changed).not.toHaveProperty('password');
    const hash = await passwordHashOf('bob.smith');
    expect(await verifyPassword(hash, 'second-secret')).toBe(true);
    expect(await verifyPassword(hash, password)).toBe(false);
    expect(await db.session.findUniqueOrThrow({ where: { id: phone } })).toMatchObject({
      revokedReason: 'password_changed',
    });

    // Disabled: a session opened meanwhile ends too.
    const tablet = await signIn(userId, applicationId);
    const disabled = await run(['users', 'disable', 'bob.smith']);
    expect(disabled).toMatchObject({ code: 0, err: [] });
    expect(disabled.out).toEqual(['User bob.smith is disabled: sign-in is refused, 1 open session revoked.']);
    expect(await db.session.findUniqueOrThrow({ where: { id: tablet } })).toMatchObject({
      revokedReason: 'user_disabled',
    });
    expect((await db.user.findUniqueOrThrow({ where: { id: userId } })).status).toBe('disabled');
    expect(await runJson(['users', 'enable', 'bob.smith'])).toMatchObject({ userId, status: 'active' });

    // Every change audited under the actor; no password or hash anywhere in the audit.
    const audit = await db.authAdminAudit.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
    expect(audit.map((row) => [row.action, row.targetId, row.actor])).toEqual([
      ['application.create', applicationId, 'alice'],
      ['user.create', userId, 'alice'],
      ['session.revoke', laptop, 'alice'],
      ['user.set_password', userId, 'alice'],
      ['user.disable', userId, 'alice'],
      ['user.enable', userId, 'alice'],
    ]);
    const auditText = JSON.stringify(audit);
    for (const hidden of [password.trim(), 'second-secret', hash, '$argon2id']) expect(auditText).not.toContain(hidden);
  });

  it('generates a password when --password-stdin is absent and prints it exactly once', async () => {
    const username = uniqueName('gen');
    const created = await run(['users', 'create', '--username', username]);
    expect(created).toMatchObject({ code: 0, err: [], stdinReads: 0 });
    const line = created.out.find((text) => /^\s+password\s/.test(text)) ?? '';
    const password = line.trim().split(/\s+/).at(-1) ?? '';
    expect(password.length).toBeGreaterThanOrEqual(16);
    expect(created.out.filter((text) => text.includes(password))).toHaveLength(1);
    expect(created.stdout).toMatch(/shown only once and cannot be shown again/);
    expect(created.stdout).toContain(`users set-password ${username}`);
    expect(await verifyPassword(await passwordHashOf(username), password)).toBe(true);

    const json = await runJson(['users', 'create', '--username', uniqueName('gen')]);
    expect(json.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(await verifyPassword(await passwordHashOf(json.username as string), json.password as string)).toBe(true);

    // set-password without --password-stdin generates one as well.
    const reset = await runJson(['users', 'set-password', username]);
    expect(reset.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(await verifyPassword(await passwordHashOf(username), reset.password as string)).toBe(true);
    const resetHuman = await run(['users', 'set-password', username]);
    expect(resetHuman.out[0]).toBe(`Password of ${username} changed; 0 open sessions revoked.`);
    expect(resetHuman.stdout).toMatch(/cannot be shown again/);

    // A password given on stdin is never printed.
    const given = await run(['users', 'create', '--username', uniqueName('given'), '--password-stdin'], {
      stdin: 'given-password-123',
    });
    expect(given.code).toBe(0);
    expect(given.stdout).not.toContain('given-password-123');
    expect(given.stdout).not.toMatch(/password/);
  });

  it('records --actor instead of the default actor', async () => {
    const app = await runJson(['apps', 'create', '--name', 'Audited', '--actor', 'carol']);
    const audit = await db.authAdminAudit.findFirstOrThrow({ where: { targetId: app.applicationId as string } });
    expect(audit.actor).toBe('carol');
  });

  it('prints applications as a table with escaped control characters, and the defaults', async () => {
    const created = await run(['apps', 'create', '--name', 'Evil\u001b[31m']);
    expect(created.code).toBe(0);
    expect(created.out[0]).toBe('Application created.');
    expect(created.stdout).toMatch(/access token ttl\s+900 s/);
    expect(created.stdout).toMatch(/idle timeout\s+1800 s/);
    expect(created.stdout).toMatch(/absolute timeout\s+43200 s/);
    expect(created.stdout).toMatch(/refresh rotation\s+on/);
    const list = await run(['apps', 'list']);
    expect(list.out[0]).toMatch(/^ID\s+NAME\s+STATUS\s+ACCESS TTL\s+IDLE\s+ABSOLUTE\s+ROTATION\s+CREATED$/);
    expect(list.stdout).toMatch(/Evil\\u001b\[31m\s+active\s+900s\s+1800s\s+43200s\s+on\s+\d{4}-/);
    expect(list.stdout).not.toContain('\u001b');
    expect(formatApplicationTable([])).toEqual([expect.stringContaining('No applications yet')]);
  });

  it('says when a user has no sessions', async () => {
    const username = uniqueName('lonely');
    await run(['users', 'create', '--username', username]);
    expect((await run(['sessions', 'list', '--user', username])).out).toEqual([
      `No active or recent sessions for ${username}.`,
    ]);
  });

  it('prints the usage for --help and help (exit 0)', async () => {
    for (const argv of [['--help'], ['help'], ['users', 'create', '-h'], ['users', 'bogus', '--help']]) {
      const { code, stdout, err } = await run(argv);
      expect(code).toBe(0);
      expect(err).toEqual([]);
      expect(stdout).toMatch(/^Usage: auth-admin/);
      expect(stdout).toContain('users set-password USER');
      expect(stdout).toContain('sessions revoke ID');
    }
    expect((await runJson(['help'])).usage).toMatch(/^Usage: auth-admin/);
  });

  it('prints the usage on stderr and exits 2 without a command', async () => {
    const { code, out, stderr } = await run([]);
    expect(code).toBe(2);
    expect(out).toEqual([]);
    expect(stderr).toMatch(/^auth-admin: no command given\n/);
    expect(stderr).toContain('Usage: auth-admin');
  });

  it.each([
    [['bogus'], 'unknown command "bogus"'],
    [['apps'], 'missing subcommand: apps create | list'],
    [['users'], 'missing subcommand: users create | disable | enable | set-password'],
    [['apps', 'bogus'], 'unknown command "apps bogus"'],
    [['apps', 'create'], 'missing --name: apps create --name NAME'],
    [['apps', 'create', '--name', 'x', '--idle', 'soon'], '--idle must be a whole number of seconds, got "soon"'],
    [['apps', 'create', '--name', 'x', '--access-ttl', '1.5'], '--access-ttl must be a whole number of seconds'],
    [['apps', 'create', '--name', 'x', '--absolute', ''], '--absolute must be a whole number of seconds'],
    [['apps', 'create', '--name', 'x', '--rotation', 'maybe'], '--rotation must be "on" or "off", got "maybe"'],
    [['apps', 'create', '--name', 'x', '--bogus'], 'unknown option --bogus'],
    [['apps', 'create', '--name'], 'option --name needs a value'],
    [['apps', 'create', '--name', 'x', '--json=yes'], 'option --json takes no value'],
    [['apps', 'create', '--name', 'x', '--password-stdin'], 'option --password-stdin does not apply to "apps create"'],
    [['apps', 'list', '--name', 'x'], 'option --name does not apply to "apps list"'],
    [['apps', 'list', 'extra'], 'unexpected argument "extra" for "apps list"'],
    [['users', 'create'], 'missing --username: users create --username USER'],
    [['users', 'create', '--username', 'u', '--password-stdin=x'], 'option --password-stdin takes no value'],
    [['users', 'create', '--username', 'u', 'extra'], 'unexpected argument "extra"'],
    [['users', 'disable'], 'missing username: users disable USER'],
    [['users', 'enable', ' '], 'missing username: users enable USER'],
    [['users', 'disable', 'a', 'b'], 'unexpected argument "b" for "users disable"'],
    [['users', 'disable', 'a', '--email', 'e@x.io'], 'option --email does not apply to "users disable"'],
    [['users', 'set-password'], 'missing username: users set-password USER'],
    [['sessions', 'list'], 'missing --user: sessions list --user USER'],
    [['sessions', 'list', 'bob'], 'unexpected argument "bob" for "sessions list"'],
    [['sessions', 'revoke'], 'missing session id: sessions revoke ID'],
    [['sessions', 'revoke', UNKNOWN_ID, '--user', 'x'], 'option --user does not apply to "sessions revoke"'],
    [['apps', 'list', '--actor', ' '], '--actor must have 1 to 200 printable characters'],
    [['apps', 'list', '--actor', 'a\u0007'], '--actor must have 1 to 200 printable characters'],
  ])('usage error %j exits 2 naming the problem in one line', async (argv, message) => {
    const [users, audits] = [await db.user.count(), await db.authAdminAudit.count()];
    const { code, out, err, stdinReads } = await run(argv, { stdin: 'some-password' });
    expect(code).toBe(2);
    expect(out).toEqual([]);
    expect(err).toHaveLength(1);
    expect(err[0]).not.toContain('\n');
    expect(err[0]).toMatch(/^auth-admin: /);
    expect(err[0]).toContain(message);
    expect(stdinReads).toBe(0);
    expect(await db.user.count()).toBe(users);
    expect(await db.authAdminAudit.count()).toBe(audits);
  });

  it.each([
    [['users', 'disable', 'ghost'], 'USER_NOT_FOUND', 'no user named ghost'],
    [['users', 'enable', 'Ghost'], 'USER_NOT_FOUND', 'no user named ghost'],
    [['users', 'set-password', 'ghost', '--password-stdin'], 'USER_NOT_FOUND', 'no user named ghost'],
    [['sessions', 'list', '--user', 'ghost'], 'USER_NOT_FOUND', 'no user named ghost'],
    [['sessions', 'revoke', UNKNOWN_ID], 'SESSION_NOT_FOUND', `no session with id ${UNKNOWN_ID}`],
    [['apps', 'create', '--name', ' '], 'INVALID_INPUT', 'name must have 1 to 200 characters'],
    [
      ['apps', 'create', '--name', 'x', '--access-ttl', '5'],
      'INVALID_INPUT',
      'access token ttl must be a whole number of seconds from 60 to 86400',
    ],
    [
      ['apps', 'create', '--name', 'x', '--idle=-1'],
      'INVALID_INPUT',
      'idle timeout must be a whole number of seconds from 60',
    ],
    [
      ['apps', 'create', '--name', 'x', '--absolute', '3000000'],
      'INVALID_INPUT',
      'absolute timeout must be a whole number of seconds from 300 to 2592000',
    ],
    [
      ['apps', 'create', '--name', 'x', '--idle', '7200', '--absolute', '3600'],
      'INVALID_INPUT',
      'idle timeout (7200 s) must not exceed the absolute timeout (3600 s)',
    ],
    [
      ['apps', 'create', '--name', 'x', '--access-ttl', '3600', '--idle', '600', '--absolute', '1800'],
      'INVALID_INPUT',
      'access token ttl (3600 s) must not exceed the absolute timeout (1800 s)',
    ],
    [
      ['users', 'create', '--username', 'no spaces', '--password-stdin'],
      'INVALID_INPUT',
      'username must have 1 to 100 characters',
    ],
    [
      ['users', 'create', '--username', 'okname', '--email', 'nope', '--password-stdin'],
      'INVALID_INPUT',
      'email must look like name@example.com',
    ],
  ])('domain error %j exits 1 with its code and message', async (argv, code, message) => {
    const [users, audits] = [await db.user.count(), await db.authAdminAudit.count()];
    const human = await run(argv, { stdin: 'long-enough-password\n' });
    expect(human.code).toBe(1);
    expect(human.out).toEqual([]);
    expect(human.err).toEqual([expect.stringMatching(/^auth-admin: /)]);
    expect(human.err[0]).toContain(message);

    const json = await run([...argv, '--json'], { stdin: 'long-enough-password\n' });
    expect(json.code).toBe(1);
    expect(json.out).toEqual([]);
    expect(json.err).toHaveLength(1);
    const body = JSON.parse(json.err[0] as string) as { error: { code: string; message: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.message).toContain(message);
    expect(await db.user.count()).toBe(users);
    expect(await db.authAdminAudit.count()).toBe(audits);
  });

  it('refuses taken usernames and emails with USERNAME_TAKEN / EMAIL_TAKEN (exit 1)', async () => {
    const username = uniqueName('taken');
    await runJson(['users', 'create', '--username', username, '--email', `${username}@example.com`]);
    const sameName = await run(['users', 'create', '--username', username.toUpperCase(), '--json']);
    expect(sameName.code).toBe(1);
    expect(sameName.out).toEqual([]);
    expect(JSON.parse(sameName.err[0] as string)).toEqual({
      error: { code: 'USERNAME_TAKEN', message: `username ${username} is already taken` },
    });
    const sameEmail = await run([
      'users',
      'create',
      '--username',
      uniqueName('other'),
      '--email',
      `${username}@EXAMPLE.com`,
    ]);
    expect(sameEmail.code).toBe(1);
    expect(sameEmail.err).toEqual([`auth-admin: email ${username}@example.com is already used by user ${username}`]);
  });

  it.each([
    ['empty', '', 'no password on stdin'],
    ['an empty first line', '\nsecond-line-password', 'no password on stdin'],
    ['too short', 'short\n', 'password must have 8 to 1024 characters (got 5)'],
    ['too long', `${'x'.repeat(1025)}\n`, 'password must have 8 to 1024 characters (got 1025)'],
  ])('refuses a stdin password that is %s with INVALID_INPUT (exit 1), echoing nothing', async (_, stdin, message) => {
    for (const argv of [
      ['users', 'create', '--username', uniqueName('stdin'), '--password-stdin'],
      ['users', 'set-password', 'nobody', '--password-stdin'],
    ]) {
      const human = await run(argv, { stdin });
      expect(human).toMatchObject({ code: 1, out: [], stdinReads: 1 });
      expect(human.err).toHaveLength(1);
      expect(human.err[0]).toContain(message);
      if (stdin.trim()) expect(human.err[0]).not.toContain(stdin.trim());
      const json = await run([...argv, '--json'], { stdin });
      expect(JSON.parse(json.err[0] as string)).toMatchObject({ error: { code: 'INVALID_INPUT' } });
    }
  });

  it('reports a failure to read stdin like any other error (exit 1)', async () => {
    const { code, err } = await run(['users', 'create', '--username', uniqueName('io'), '--password-stdin'], {
      deps: {
        readStdin: async () => {
          throw new Error('EIO: stdin broke\nsecond line');
        },
      },
    });
    expect(code).toBe(1);
    expect(err).toEqual(['auth-admin: unexpected error: EIO: stdin broke']);
  });

  it('reports usage errors as one JSON object on stderr with --json', async () => {
    const { code, out, err } = await run(['users', 'create', '--json', '--bogus']);
    expect(code).toBe(2);
    expect(out).toEqual([]);
    expect(err.map((line) => JSON.parse(line))).toEqual([
      { error: { code: 'USAGE', message: 'unknown option --bogus' } },
    ]);
  });

  it('reports an unreachable database in one short line (exit 1)', async () => {
    const unreachable = createPrismaClient('postgresql://postgres@127.0.0.1:1/nowhere', {
      connectionTimeoutMillis: 1_000,
    });
    try {
      const human = await run(['apps', 'list'], { deps: { db: unreachable } });
      expect(human).toMatchObject({ code: 1, out: [] });
      expect(human.err).toEqual([
        'auth-admin: cannot reach the database: check DATABASE_URL and that PostgreSQL is running',
      ]);
      const json = await run(['users', 'create', '--username', 'x', '--json'], { deps: { db: unreachable } });
      expect(json).toMatchObject({ code: 1, out: [] });
      expect(JSON.parse(json.err[0] as string)).toEqual({
        error: {
          code: 'DATABASE_UNAVAILABLE',
          message: 'cannot reach the database: check DATABASE_URL and that PostgreSQL is running',
        },
      });
    } finally {
      await unreachable.$disconnect();
    }
  });

  it('reports configuration errors naming the variable (exit 1)', () => {
    const err: string[] = [];
    const error = new ConfigError(['DATABASE_URL is required']);
    expect(reportError(error, false, (line) => err.push(line))).toBe(1);
    expect(reportError(error, true, (line) => err.push(line))).toBe(1);
    expect(err[0]).toBe('auth-admin: Invalid configuration: DATABASE_URL is required');
    expect(JSON.parse(err[1] as string)).toEqual({
      error: {
        code: 'CONFIG_INVALID',
        message: 'Invalid configuration: DATABASE_URL is required',
        problems: ['DATABASE_URL is required'],
      },
    });
  });

  it('reports a database without the auth tables as not migrated (exit 1)', () => {
    const err: string[] = [];
    expect(reportError({ code: 'P2021', message: 'table missing' }, false, (line) => err.push(line))).toBe(1);
    expect(err).toEqual([
      'auth-admin: the database lacks the auth tables or columns: apply the migrations (pnpm db:migrate)',
    ]);
  });
});
