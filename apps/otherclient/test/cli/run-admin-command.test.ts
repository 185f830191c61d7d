import { createPrismaClient, type PrismaClient } from '@mxp/db';
import { createTestDatabase } from '@mxp/db/testing';
import { ConfigError } from '@mxp/service-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatClientTable } from '../../src/cli/format.js';
import { type AdminCommandDeps, reportError, runAdminCommand } from '../../src/cli/run-admin-command.js';
import { clientSecretMatches } from '../../src/services/client-secrets.js';

const pepper = 'pepper-0123456789abcdef0123456789abcdef';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UNKNOWN_ID = '01900000-0000-7000-8000-000000000000';

describe('runAdminCommand', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let db: PrismaClient;
  beforeAll(async () => {
    database = await createTestDatabase();
    db = createPrismaClient(database.url);
  });
  afterAll(async () => {
    await db.$disconnect();
    await database.drop();
  });

  async function run(argv: string[], deps: Partial<AdminCommandDeps> = {}) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runAdminCommand(argv, {
      db,
      pepper,
      rotationGraceSeconds: 86_400,
      retentionDays: 90,
      backoffResetSeconds: 900,
      actor: 'alice',
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      ...deps,
    });
    return { code, out, err, stdout: out.join('\n'), stderr: err.join('\n') };
  }

  /** Runs a `--json` command that must succeed: exactly one JSON object on stdout, nothing on stderr. */
  async function runJson(argv: string[], deps: Partial<AdminCommandDeps> = {}) {
    const result = await run([...argv, '--json'], deps);
    expect(result.err).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.out).toHaveLength(1);
    return JSON.parse(result.out[0] as string) as Record<string, unknown>;
  }

  async function auditOf(clientId: string) {
    const rows = await db.clientAdminAudit.findMany({ where: { clientId }, orderBy: { createdAt: 'asc' } });
    return rows.map(({ action, actor, details }) => ({ action, actor, details }));
  }

  it('creates, lists, shows, rotates, disables and enables a client, never showing a secret twice', async () => {
    const created = await runJson([
      'clients',
      'create',
      '--name',
      'Acme ERP',
      '--scopes',
      'orders:read,orders:write',
      '--audience',
      'mxp-api',
      '--ttl',
      '900',
    ]);
    const clientId = created.clientId as string;
    const secret = created.clientSecret as string;
    expect(secret).toMatch(UUID);
    expect(created).toMatchObject({
      clientId: expect.any(String),
      name: 'Acme ERP',
      status: 'active',
      scopes: ['orders:read', 'orders:write'],
      audience: 'mxp-api',
      tokenTtlSeconds: 900,
      lastUsedAt: null,
      disabledAt: null,
    });
    expect(new Date(created.createdAt as string).toISOString()).toBe(created.createdAt);

    // Stored: only a keyed hash, which does not contain the secret.
    const stored = await db.apiClient.findUniqueOrThrow({ where: { id: clientId } });
    expect(stored.secretHash).toMatch(/^hmac-sha256\$/);
    expect(JSON.stringify(stored)).not.toContain(secret);
    expect(clientSecretMatches(secret, stored.secretHash, pepper)).toBe(true);

    // Listed and shown, without the secret or its hash.
    const list = await runJson(['clients', 'list']);
    expect(list.clients).toEqual([expect.objectContaining({ clientId, name: 'Acme ERP', status: 'active' })]);
    const shown = await runJson(['clients', 'show', clientId]);
    expect(shown).toMatchObject({ clientId, scopes: ['orders:read', 'orders:write'], tokenTtlSeconds: 900 });
    for (const argv of [
      ['clients', 'list'],
      ['clients', 'show', clientId],
      ['clients', 'list', '--json'],
    ]) {
      const { code, stdout } = await run(argv);
      expect(code).toBe(0);
      expect(stdout).toContain(clientId);
      expect(stdout).not.toContain(secret);
      expect(stdout).not.toContain(stored.secretHash);
      expect(stdout).not.toContain('secretHash');
    }

    // Rotation: a new secret; the old hash keeps working for the grace period.
    const before = Date.now();
    const rotated = await runJson(['clients', 'rotate-secret', clientId, '--grace', '60']);
    const after = Date.now();
    const newSecret = rotated.clientSecret as string;
    expect(newSecret).toMatch(UUID);
    expect(newSecret).not.toBe(secret);
    expect(rotated.graceSeconds).toBe(60);
    const rotatedRow = await db.apiClient.findUniqueOrThrow({ where: { id: clientId } });
    expect(rotatedRow.previousSecretHash).toBe(stored.secretHash);
    expect(clientSecretMatches(newSecret, rotatedRow.secretHash, pepper)).toBe(true);
    const expires = rotatedRow.previousSecretExpiresAt?.getTime() ?? 0;
    expect(expires).toBeGreaterThanOrEqual(before + 60_000);
    expect(expires).toBeLessThanOrEqual(after + 60_000);
    expect(rotated.previousSecretExpiresAt).toBe(rotatedRow.previousSecretExpiresAt?.toISOString());

    // Disable, then enable.
    expect(await runJson(['clients', 'disable', clientId])).toMatchObject({ clientId, status: 'disabled' });
    const disabledRow = await db.apiClient.findUniqueOrThrow({ where: { id: clientId } });
    expect(disabledRow.status).toBe('disabled');
    expect(disabledRow.disabledAt).not.toBeNull();
    expect(await runJson(['clients', 'show', clientId])).toMatchObject({ status: 'disabled' });
    expect(await runJson(['clients', 'enable', clientId])).toMatchObject({ status: 'active', disabledAt: null });
    expect((await db.apiClient.findUniqueOrThrow({ where: { id: clientId } })).status).toBe('active');

    // Every change is audited with its actor, and no audit row holds a secret.
    const audit = await auditOf(clientId);
    expect(audit.map(({ action }) => action).sort()).toEqual(
      ['client.create', 'client.disable', 'client.enable', 'client.rotate_secret'].sort(),
    );
    for (const row of audit) expect(row.actor).toBe('alice');
    expect(audit.find((row) => row.action === 'client.rotate_secret')?.details).toMatchObject({ graceSeconds: 60 });
    const auditText = JSON.stringify(audit);
    for (const hidden of [secret, newSecret, stored.secretHash, rotatedRow.secretHash, pepper]) {
      expect(auditText).not.toContain(hidden);
    }
  });

  it('prints a created secret once in human output, with the warning and the settings', async () => {
    const { code, out, err } = await run(['clients', 'create', '--name', 'Human', '--scopes', 'a', '--scopes', 'b,c']);
    expect(code).toBe(0);
    expect(err).toEqual([]);
    const secretLine = out.find((line) => line.includes('client secret')) ?? '';
    const secret = secretLine.trim().split(/\s+/).at(-1) ?? '';
    expect(secret).toMatch(UUID);
    expect(out.filter((line) => line.includes(secret))).toHaveLength(1);
    expect(out.join('\n')).toMatch(/cannot be shown again/);
    expect(out.join('\n')).toMatch(/scopes\s+a,b,c/);
    expect(out.join('\n')).toMatch(/token ttl\s+3600 s/);
    expect(out.join('\n')).toMatch(/audience\s+\(service default\)/);
  });

  it('rotates with the configured grace by default, records --actor, and stops the old secret at once with --grace 0', async () => {
    const created = await runJson(['clients', 'create', '--name', 'Rotating']);
    const clientId = created.clientId as string;
    const oldHash = (await db.apiClient.findUniqueOrThrow({ where: { id: clientId } })).secretHash;

    const before = Date.now();
    const { code, out } = await run(['clients', 'rotate-secret', clientId, '--actor', 'bob'], {
      rotationGraceSeconds: 120,
    });
    expect(code).toBe(0);
    const row = await db.apiClient.findUniqueOrThrow({ where: { id: clientId } });
    expect(row.previousSecretHash).toBe(oldHash);
    const expiresAt = row.previousSecretExpiresAt as Date;
    expect(expiresAt.getTime() - before).toBeGreaterThanOrEqual(120_000);
    expect(expiresAt.getTime() - before).toBeLessThan(130_000);
    const text = out.join('\n');
    expect(text).toContain(`keeps working until ${expiresAt.toISOString()}`);
    expect(text).toMatch(/cannot be shown again/);
    const secret = (out.find((line) => line.includes('client secret')) ?? '').trim().split(/\s+/).at(-1) ?? '';
    expect(clientSecretMatches(secret, row.secretHash, pepper)).toBe(true);

    const immediate = await run(['clients', 'rotate-secret', clientId, '--grace', '0']);
    expect(immediate.code).toBe(0);
    expect(immediate.stdout).toContain('stopped working immediately');
    const afterZero = await db.apiClient.findUniqueOrThrow({ where: { id: clientId } });
    expect(afterZero.previousSecretHash).toBeNull();
    expect(afterZero.previousSecretExpiresAt).toBeNull();

    const audit = await auditOf(clientId);
    expect(
      audit
        .filter((row) => row.action === 'client.rotate_secret')
        .map((row) => row.actor)
        .sort(),
    ).toEqual(['alice', 'bob']);
  });

  it('lists clients as a table and escapes control characters of names', async () => {
    const created = await runJson(['clients', 'create', '--name', 'Evil\u001b[31m', '--scopes', 'x,y', '--ttl', '120']);
    const { code, out } = await run(['clients', 'list']);
    expect(code).toBe(0);
    expect(out[0]).toMatch(/^ID\s+NAME\s+STATUS\s+SCOPES\s+AUDIENCE\s+TTL\s+LAST USED$/);
    const row = out.find((line) => line.startsWith(created.clientId as string)) ?? '';
    expect(row).toMatch(/Evil\\u001b\[31m\s+active\s+x,y\s+\(service default\)\s+120s\s+never$/);
    expect(out.join('\n')).not.toContain('\u001b');
    expect(formatClientTable([])).toEqual([expect.stringContaining('No clients yet')]);
  });

  it('prints the usage for --help and help (exit 0)', async () => {
    for (const argv of [['--help'], ['help'], ['clients', 'create', '-h'], ['clients', 'bogus', '--help']]) {
      const { code, stdout, err } = await run(argv);
      expect(code).toBe(0);
      expect(err).toEqual([]);
      expect(stdout).toMatch(/^Usage: otherclient-admin/);
      expect(stdout).toContain('clients rotate-secret ID');
    }
    const json = await runJson(['help']);
    expect(json.usage).toMatch(/^Usage: otherclient-admin/);
  });

  it('prints the usage on stderr and exits 2 without a command', async () => {
    const { code, out, stderr } = await run([]);
    expect(code).toBe(2);
    expect(out).toEqual([]);
    expect(stderr).toMatch(/^otherclient-admin: no command given\n/);
    expect(stderr).toContain('Usage: otherclient-admin');
  });

  it.each([
    [['bogus'], 'unknown command "bogus"'],
    [['clients'], 'missing subcommand'],
    [['clients', 'bogus'], 'unknown command "clients bogus"'],
    [['clients', 'create'], 'missing --name'],
    [['clients', 'create', '--name', 'x', '--ttl', 'abc'], '--ttl must be a whole number of seconds, got "abc"'],
    [['clients', 'create', '--name', 'x', '--ttl', '1.5'], '--ttl must be a whole number of seconds'],
    [['clients', 'create', '--name', 'x', '--bogus'], 'unknown option --bogus'],
    [['clients', 'create', '--name'], 'option --name needs a value'],
    [['clients', 'create', '--name', 'x', '--json=yes'], 'option --json takes no value'],
    [['clients', 'list', '--name', 'x'], 'option --name does not apply to "clients list"'],
    [['clients', 'create', '--name', 'x', '--grace', '5'], 'option --grace does not apply to "clients create"'],
    [['clients', 'show'], 'missing client id: clients show ID'],
    [['clients', 'disable'], 'missing client id: clients disable ID'],
    [['clients', 'show', 'a', 'b'], 'unexpected argument "b"'],
    [['clients', 'list', 'extra'], 'unexpected argument "extra"'],
    [['clients', 'rotate-secret', UNKNOWN_ID, '--grace', 'soon'], '--grace must be a whole number of seconds'],
    [['clients', 'list', '--actor', ' '], '--actor must have 1 to 200 printable characters'],
  ])('usage error %j exits 2 naming the problem in one line', async (argv, message) => {
    const clientsBefore = await db.apiClient.count();
    const { code, out, err } = await run(argv);
    expect(code).toBe(2);
    expect(out).toEqual([]);
    expect(err).toHaveLength(1);
    expect(err[0]).not.toContain('\n');
    expect(err[0]).toContain(message);
    expect(await db.apiClient.count()).toBe(clientsBefore);
  });

  it.each([
    [['clients', 'show', UNKNOWN_ID], 'CLIENT_NOT_FOUND', `no client with id ${UNKNOWN_ID}`],
    [['clients', 'rotate-secret', UNKNOWN_ID], 'CLIENT_NOT_FOUND', `no client with id ${UNKNOWN_ID}`],
    [['clients', 'disable', UNKNOWN_ID], 'CLIENT_NOT_FOUND', `no client with id ${UNKNOWN_ID}`],
    [['clients', 'enable', 'not-an-id'], 'CLIENT_NOT_FOUND', 'no client with id not-an-id'],
    [
      ['clients', 'create', '--name', 'x', '--ttl', '5'],
      'INVALID_INPUT',
      'ttl must be a whole number of seconds from 60',
    ],
    [['clients', 'create', '--name', ' '], 'INVALID_INPUT', 'name must have 1 to 200 characters'],
    [['clients', 'create', '--name', 'x', '--scopes', 'a"b'], 'INVALID_INPUT', 'invalid scope "a"b"'],
  ])('domain error %j exits 1 with its message', async (argv, code, message) => {
    const clientsBefore = await db.apiClient.count();
    const human = await run(argv);
    expect(human.code).toBe(1);
    expect(human.out).toEqual([]);
    expect(human.err).toHaveLength(1);
    expect(human.err[0]).toMatch(/^otherclient-admin: /);
    expect(human.err[0]).toContain(message);

    const json = await run([...argv, '--json']);
    expect(json.code).toBe(1);
    expect(json.out).toEqual([]);
    expect(json.err).toHaveLength(1);
    const body = JSON.parse(json.err[0] as string) as { error: { code: string; message: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.message).toContain(message);
    expect(await db.apiClient.count()).toBe(clientsBefore);
  });

  it('rejects a grace beyond 30 days as invalid input (exit 1)', async () => {
    const { clientId } = (await runJson(['clients', 'create', '--name', 'Grace'])) as { clientId: string };
    const { code, err } = await run(['clients', 'rotate-secret', clientId, '--grace', '2592001']);
    expect(code).toBe(1);
    expect(err).toEqual(['otherclient-admin: grace must be a whole number of seconds from 0 to 2592000 (30 days)']);
  });

  it('reports usage errors as one JSON object on stderr with --json', async () => {
    const { code, out, err } = await run(['clients', 'create', '--json', '--bogus']);
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
      const human = await run(['clients', 'list'], { db: unreachable });
      expect(human.code).toBe(1);
      expect(human.out).toEqual([]);
      expect(human.err).toEqual([
        'otherclient-admin: cannot reach the database: check DATABASE_URL and that PostgreSQL is running',
      ]);
      const json = await run(['clients', 'create', '--name', 'x', '--json'], { db: unreachable });
      expect(json.code).toBe(1);
      expect(json.out).toEqual([]);
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
    expect(err[0]).toBe('otherclient-admin: Invalid configuration: DATABASE_URL is required');
    expect(JSON.parse(err[1] as string)).toEqual({
      error: {
        code: 'CONFIG_INVALID',
        message: 'Invalid configuration: DATABASE_URL is required',
        problems: ['DATABASE_URL is required'],
      },
    });
  });
});
