// `otherclient-admin prune`: retention of token_audit, revocations of expired tokens and forgotten client_backoff
// rows, against a real PostgreSQL database, in-process (RETENTION_DAYS through the entry point at the end).
import { createPrismaClient, type PrismaClient } from '@mxp/db';
import { createTestDatabase } from '@mxp/db/testing';
import { runAdminEntry } from '@mxp/testing/admin-entry';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type AdminCommandDeps,
  REVOKED_TOKEN_KEEP_AFTER_EXPIRY_MS,
  runAdminCommand,
} from '../../src/cli/run-admin-command.js';

const DAY = 86_400_000;
const NOW = new Date('2026-06-01T12:00:00.000Z');
const CUTOFF_90 = new Date(NOW.getTime() - 90 * DAY);
const at = (ms: number) => new Date(ms);
const pepper = 'pepper-0123456789abcdef0123456789abcdef';

describe('otherclient-admin prune', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let db: PrismaClient;
  let deleteStatements = 0;
  let countingDb: PrismaClient;

  beforeAll(async () => {
    database = await createTestDatabase();
    db = createPrismaClient(database.url);
    // Counts the batched DELETEs (one $executeRaw each).
    countingDb = new Proxy(db, {
      get(target, property) {
        if (property === '$executeRaw') {
          return (...args: Parameters<PrismaClient['$executeRaw']>) => {
            deleteStatements += 1;
            return target.$executeRaw(...args);
          };
        }
        const value = Reflect.get(target, property);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  });
  afterAll(async () => {
    await db.$disconnect();
    await database.drop();
  });
  beforeEach(async () => {
    deleteStatements = 0;
    await db.$executeRaw`TRUNCATE otherclient.token_audit, otherclient.revoked_tokens, otherclient.client_backoff`;
  });

  async function run(argv: string[], deps: Partial<AdminCommandDeps> = {}) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runAdminCommand(argv, {
      db: countingDb,
      pepper,
      rotationGraceSeconds: 86_400,
      retentionDays: 90,
      backoffResetSeconds: 900,
      now: () => NOW,
      actor: 'alice',
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      ...deps,
    });
    return { code, out, err };
  }

  async function runJson(argv: string[], deps: Partial<AdminCommandDeps> = {}) {
    const result = await run([...argv, '--json'], deps);
    expect(result.err).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.out).toHaveLength(1);
    return JSON.parse(result.out[0] as string) as Record<string, unknown>;
  }

  async function addAudit(times: Date[]) {
    await db.tokenAudit.createMany({
      data: times.map((createdAt) => ({ clientId: 'c1', result: 'failed' as const, reason: 'bad_secret', createdAt })),
    });
  }
  const auditTimes = async () =>
    (await db.tokenAudit.findMany({ orderBy: { createdAt: 'asc' }, select: { createdAt: true } })).map((row) =>
      row.createdAt.toISOString(),
    );

  it('deletes token_audit rows created strictly before now − RETENTION_DAYS, in batches, and keeps the rest', async () => {
    const old = Array.from({ length: 8 }, (_, i) => at(CUTOFF_90.getTime() - (i + 1) * 3_600_000));
    const recent = [CUTOFF_90, at(CUTOFF_90.getTime() + 1), NOW];
    await addAudit([...old, at(CUTOFF_90.getTime() - 1), ...recent]);

    const report = await runJson(['prune', '--batch-size', '4']);
    expect(report).toMatchObject({
      olderThanDays: 90,
      cutoff: CUTOFF_90.toISOString(),
      batchSize: 4,
      deleted: { 'otherclient.token_audit': 9, 'otherclient.revoked_tokens': 0, 'otherclient.client_backoff': 0 },
      total: 9,
    });
    // token_audit: 4 + 4 + 1; revoked_tokens: one empty batch.
    expect(deleteStatements).toBe(3 + 1);
    expect(await auditTimes()).toEqual(recent.map((time) => time.toISOString()));

    expect(await runJson(['prune', '--older-than-days', '1'])).toMatchObject({
      olderThanDays: 1,
      deleted: { 'otherclient.token_audit': 2 },
    });
    expect(await auditTimes()).toEqual([NOW.toISOString()]);
  });

  it('deletes the revocations of tokens expired more than the clock margin ago, whatever --older-than-days', async () => {
    const margin = REVOKED_TOKEN_KEEP_AFTER_EXPIRY_MS;
    const rows: Array<[string, Date]> = [
      ['expired-long-ago', at(NOW.getTime() - DAY)],
      ['expired-past-margin', at(NOW.getTime() - margin - 1)],
      ['expired-at-margin', at(NOW.getTime() - margin)],
      ['expired-just-now', at(NOW.getTime() - 1000)],
      ['still-valid', at(NOW.getTime() + 3_600_000)],
    ];
    await db.revokedToken.createMany({
      data: rows.map(([jti, expiresAt]) => ({
        jti,
        clientId: 'c1',
        expiresAt,
        revokedAt: at(NOW.getTime() - 2 * DAY),
      })),
    });
    const report = await runJson(['prune', '--older-than-days', '36500', '--batch-size', '1']);
    expect(report).toMatchObject({ deleted: { 'otherclient.revoked_tokens': 2 } });
    const left = await db.revokedToken.findMany({ orderBy: { jti: 'asc' }, select: { jti: true } });
    expect(left.map((row) => row.jti)).toEqual(['expired-at-margin', 'expired-just-now', 'still-valid']);
  });

  it('deletes only the client_backoff rows the backoff has forgotten (no failure or lock for BACKOFF_RESET_SECONDS)', async () => {
    const staleBefore = NOW.getTime() - 600_000;
    const rows: Array<[string, Date, Date | null]> = [
      ['forgotten-1', at(staleBefore - 1), null],
      ['forgotten-2', at(staleBefore - DAY), at(staleBefore - 1)],
      ['forgotten-3', at(staleBefore), null],
      ['recent-failure', at(staleBefore + 1), null],
      ['locked', at(NOW.getTime() - 1000), at(NOW.getTime() + 60_000)],
    ];
    for (const [key, lastFailureAt, lockedUntil] of rows) {
      await db.clientBackoff.create({ data: { key, failures: 2, lastFailureAt, lockedUntil } });
    }
    const report = await runJson(['prune', '--batch-size', '2'], { backoffResetSeconds: 600 });
    expect(report).toMatchObject({ deleted: { 'otherclient.client_backoff': 3 } });
    const left = await db.clientBackoff.findMany({ orderBy: { key: 'asc' }, select: { key: true } });
    expect(left.map((row) => row.key)).toEqual(['locked', 'recent-failure']);
  });

  it('prints the rows per table in plain text', async () => {
    await addAudit([at(CUTOFF_90.getTime() - DAY)]);
    const { code, out, err } = await run(['prune']);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(out[0]).toBe(`Deleted 1 rows older than 90 days (before ${CUTOFF_90.toISOString()}), in batches of 5000:`);
    expect(out.slice(1, 5).map((line) => line.replace(/\s+/g, ' ').trim())).toEqual([
      'table rows',
      'otherclient.token_audit 1',
      'otherclient.revoked_tokens 0',
      'otherclient.client_backoff 0',
    ]);
  });

  it.each([
    [['prune', '--batch-size', '0'], '--batch-size must be a whole number from 1 to 100000, got "0"'],
    [['prune', '--older-than-days', '36501'], '--older-than-days must be a whole number from 1 to 36500, got "36501"'],
    [['prune', '--older-than-days', 'x'], '--older-than-days must be a whole number from 1 to 36500, got "x"'],
    [['prune', 'clients'], 'unexpected argument "clients" for "prune"'],
    [['prune', '--grace', '5'], 'option --grace does not apply to "prune"'],
    [['clients', 'list', '--older-than-days', '5'], 'option --older-than-days does not apply to "clients list"'],
  ])('refuses %j with a usage error (exit 2) and deletes nothing', async (argv, message) => {
    await addAudit([at(CUTOFF_90.getTime() - DAY)]);
    const human = await run(argv);
    expect(human).toMatchObject({ code: 2, out: [] });
    expect(human.err.join('\n')).toContain(message);
    const json = await run([...argv, '--json']);
    expect(json).toMatchObject({ code: 2, out: [] });
    expect(JSON.parse(json.err[0] as string)).toEqual({ error: { code: 'USAGE', message } });
    expect(await db.tokenAudit.count()).toBe(1);
    expect(deleteStatements).toBe(0);
  });

  it('documents the command in --help', async () => {
    const { code, out } = await run(['--help']);
    expect(code).toBe(0);
    expect(out.join('\n')).toMatch(/prune \[--older-than-days N\] \[--batch-size N\]/);
  });

  it('the entry point reads RETENTION_DAYS (validated like the rest of the configuration)', async () => {
    await addAudit([at(Date.now() - 40 * DAY), at(Date.now() - 20 * DAY)]);
    const bad = await runEntry(['prune', '--json'], { DATABASE_URL: database.url, RETENTION_DAYS: '0' });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(JSON.parse(bad.stderr)).toMatchObject({ error: { code: 'CONFIG_INVALID' } });
    expect(bad.stderr).toContain('RETENTION_DAYS');
    expect(await db.tokenAudit.count()).toBe(2);

    const good = await runEntry(['prune', '--json'], { DATABASE_URL: database.url, RETENTION_DAYS: '30' });
    expect(good.stderr).toBe('');
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ olderThanDays: 30, deleted: { 'otherclient.token_audit': 1 } });
    expect(await db.tokenAudit.count()).toBe(1);
  }, 60_000);
});

/** The real entry point in a child process, with a minimal environment. */
function runEntry(args: string[], env: NodeJS.ProcessEnv) {
  return runAdminEntry('otherclient', args, {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'test',
    CLIENT_SECRET_PEPPER: pepper,
    ...env,
  });
}
