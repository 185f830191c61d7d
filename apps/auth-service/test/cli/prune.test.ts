// `auth-admin prune`: retention of auth_attempts and auth_logs, and forgotten credential_backoff rows, against a real
// PostgreSQL database, in-process (the entry point's RETENTION_DAYS handling runs in a child process at the end).
import { createPrismaClient, type PrismaClient } from '@mxp/db';
import { createTestDatabase } from '@mxp/db/testing';
import { runAdminEntry } from '@mxp/testing/admin-entry';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AdminCommandDeps, runAdminCommand } from '../../src/cli/run-admin-command.js';

const DAY = 86_400_000;
const NOW = new Date('2026-06-01T12:00:00.000Z');
const CUTOFF_90 = new Date(NOW.getTime() - 90 * DAY);
const at = (ms: number) => new Date(ms);

describe('auth-admin prune', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let db: PrismaClient;
  let userId: string;
  /** DELETE statements sent through Prisma's $executeRaw (one per batch). */
  let deleteStatements = 0;
  let countingDb: PrismaClient;

  beforeAll(async () => {
    database = await createTestDatabase();
    db = createPrismaClient(database.url);
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
    userId = (await db.user.create({ data: { username: 'retained', passwordHash: 'x' } })).id;
  });
  afterAll(async () => {
    await db.$disconnect();
    await database.drop();
  });
  beforeEach(async () => {
    deleteStatements = 0;
    await db.$executeRaw`TRUNCATE auth.auth_logs, auth.auth_attempts, auth.credential_backoff`;
  });

  async function run(argv: string[], deps: Partial<AdminCommandDeps> = {}) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runAdminCommand(argv, {
      db: countingDb,
      passwordHashParams: { memoryKib: 1024, iterations: 1, parallelism: 1 },
      readStdin: async () => {
        throw new Error('prune reads no stdin');
      },
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

  async function addLogs(times: Date[]) {
    await db.authLog.createMany({
      data: times.map((createdAt, i) => ({ userId, action: `a${i}`, success: true, createdAt })),
    });
  }
  async function addAttempts(times: Date[]) {
    await db.authAttempt.createMany({
      data: times.map((createdAt, i) => ({
        identifier: `i${i}`,
        method: 'credentials' as const,
        source: 'observed' as const,
        success: false,
        createdAt,
      })),
    });
  }
  const logTimes = async () =>
    (await db.authLog.findMany({ orderBy: { createdAt: 'asc' }, select: { createdAt: true } })).map((row) =>
      row.createdAt.toISOString(),
    );

  it('deletes the rows created strictly before now − RETENTION_DAYS, in batches, and keeps the rest', async () => {
    const old = Array.from({ length: 10 }, (_, i) => at(CUTOFF_90.getTime() - (i + 1) * DAY));
    const justBefore = at(CUTOFF_90.getTime() - 1);
    const recent = [CUTOFF_90, at(CUTOFF_90.getTime() + 1), at(NOW.getTime() - DAY), NOW];
    await addLogs([...old, justBefore, ...recent]);
    await addAttempts([...old.slice(0, 6), justBefore, ...recent]);

    const report = await runJson(['prune', '--batch-size', '3']);
    expect(report).toMatchObject({
      olderThanDays: 90,
      cutoff: CUTOFF_90.toISOString(),
      batchSize: 3,
      deleted: { 'auth.auth_attempts': 7, 'auth.auth_logs': 11, 'auth.credential_backoff': 0 },
      total: 18,
    });
    expect(typeof report.seconds).toBe('number');
    // 7 rows in batches of 3: 3 + 3 + 1; 11 rows: 3 + 3 + 3 + 2 (a short batch ends the table).
    expect(deleteStatements).toBe(3 + 4);
    // The row exactly at the cutoff is kept, the one a millisecond older is gone.
    expect(await logTimes()).toEqual(recent.map((time) => time.toISOString()));
    expect(await db.authAttempt.count()).toBe(recent.length);

    // Nothing left to delete: one short (empty) batch per table.
    deleteStatements = 0;
    expect(await runJson(['prune'])).toMatchObject({ batchSize: 5000, total: 0 });
    expect(deleteStatements).toBe(2);
  });

  it('--older-than-days overrides RETENTION_DAYS (and a batch size equal to the rows still ends)', async () => {
    await addLogs([at(NOW.getTime() - 100 * DAY), at(NOW.getTime() - 31 * DAY), at(NOW.getTime() - 29 * DAY)]);
    const report = await runJson(['prune', '--older-than-days', '30', '--batch-size', '2'], { retentionDays: 365 });
    expect(report).toMatchObject({
      olderThanDays: 30,
      cutoff: at(NOW.getTime() - 30 * DAY).toISOString(),
      deleted: { 'auth.auth_logs': 2 },
    });
    expect(await logTimes()).toEqual([at(NOW.getTime() - 29 * DAY).toISOString()]);
    // The configured default applies without the option.
    expect(await runJson(['prune'], { retentionDays: 1 })).toMatchObject({ olderThanDays: 1, total: 1 });
    expect(await db.authLog.count()).toBe(0);
  });

  it('deletes only the backoff rows the backoff itself has forgotten (no failure or lock for BACKOFF_RESET_SECONDS)', async () => {
    const staleBefore = NOW.getTime() - 900_000;
    const rows: Array<[string, Date, Date | null]> = [
      ['name:forgotten', at(staleBefore - 60_000), null],
      ['name:boundary', at(staleBefore), at(staleBefore)],
      ['name:recent-failure', at(staleBefore + 1), null],
      ['name:lock-ended-recently', at(staleBefore - 3_600_000), at(staleBefore + 1)],
      ['name:locked', at(NOW.getTime() - 10_000), at(NOW.getTime() + 60_000)],
    ];
    for (const [key, lastFailureAt, lockedUntil] of rows) {
      await db.credentialBackoff.create({ data: { key, failures: 3, lastFailureAt, lockedUntil } });
    }
    const report = await runJson(['prune', '--batch-size', '2']);
    expect(report).toMatchObject({ deleted: { 'auth.credential_backoff': 2 } });
    const left = await db.credentialBackoff.findMany({ orderBy: { key: 'asc' }, select: { key: true } });
    expect(left.map((row) => row.key)).toEqual(['name:lock-ended-recently', 'name:locked', 'name:recent-failure']);
  });

  it('prints the rows per table in plain text', async () => {
    await addLogs([at(CUTOFF_90.getTime() - DAY)]);
    const { code, out, err } = await run(['prune']);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(out[0]).toBe(`Deleted 1 rows older than 90 days (before ${CUTOFF_90.toISOString()}), in batches of 5000:`);
    expect(out.slice(1, 5).map((line) => line.replace(/\s+/g, ' ').trim())).toEqual([
      'table rows',
      'auth.auth_attempts 0',
      'auth.auth_logs 1',
      'auth.credential_backoff 0',
    ]);
    expect(out[5]).toMatch(/^in \d+\.\d s$/);
  });

  it.each([
    [['prune', '--batch-size', '0'], '--batch-size must be a whole number from 1 to 100000, got "0"'],
    [['prune', '--batch-size', '100001'], '--batch-size must be a whole number from 1 to 100000, got "100001"'],
    [['prune', '--batch-size', 'lots'], '--batch-size must be a whole number from 1 to 100000, got "lots"'],
    [['prune', '--older-than-days', '0'], '--older-than-days must be a whole number from 1 to 36500, got "0"'],
    [['prune', '--older-than-days', '-5'], 'option --older-than-days needs a value'],
    [['prune', '--older-than-days', '1.5'], '--older-than-days must be a whole number from 1 to 36500, got "1.5"'],
    [['prune', '--older-than-days'], 'option --older-than-days needs a value'],
    [['prune', 'now'], 'unexpected argument "now" for "prune"'],
    [['prune', '--user', 'bob'], 'option --user does not apply to "prune"'],
    [['prune', '--force'], 'unknown option --force'],
    [['users', 'disable', 'bob', '--batch-size', '5'], 'option --batch-size does not apply to "users disable"'],
  ])('refuses %j with a usage error (exit 2) and deletes nothing', async (argv, message) => {
    await addLogs([at(CUTOFF_90.getTime() - DAY)]);
    const human = await run(argv);
    expect(human.code).toBe(2);
    expect(human.out).toEqual([]);
    expect(human.err.join('\n')).toContain(message);
    const json = await run([...argv, '--json']);
    expect(json.code).toBe(2);
    expect(json.out).toEqual([]);
    expect(JSON.parse(json.err[0] as string)).toMatchObject({ error: { code: 'USAGE' } });
    expect(await db.authLog.count()).toBe(1);
    expect(deleteStatements).toBe(0);
  });

  it('documents the command in --help', async () => {
    const { code, out } = await run(['--help']);
    expect(code).toBe(0);
    expect(out.join('\n')).toMatch(/prune \[--older-than-days N\] \[--batch-size N\]/);
    expect(out.join('\n')).toContain('RETENTION_DAYS');
  });

  it('the entry point reads RETENTION_DAYS (validated like the rest of the configuration)', async () => {
    await addLogs([at(Date.now() - 40 * DAY), at(Date.now() - 20 * DAY)]);
    const bad = await runEntry(['prune', '--json'], { DATABASE_URL: database.url, RETENTION_DAYS: 'ninety' });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(JSON.parse(bad.stderr)).toMatchObject({ error: { code: 'CONFIG_INVALID' } });
    expect(bad.stderr).toContain('RETENTION_DAYS');
    expect(await db.authLog.count()).toBe(2);

    const good = await runEntry(['prune', '--json'], { DATABASE_URL: database.url, RETENTION_DAYS: '30' });
    expect(good.stderr).toBe('');
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ olderThanDays: 30, deleted: { 'auth.auth_logs': 1 } });
    expect(await db.authLog.count()).toBe(1);
  }, 60_000);
});

/** The real entry point in a child process, with a minimal environment. */
function runEntry(args: string[], env: NodeJS.ProcessEnv) {
  return runAdminEntry('auth-service', args, {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'test',
    ...env,
  });
}
