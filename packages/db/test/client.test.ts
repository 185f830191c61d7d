import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPrismaClient,
  isDatabaseUnavailableError,
  Prisma,
  pgPoolOf,
  queryNamed,
  UserStatus,
} from '../src/index.js';
import { createTestDatabase, type TestDatabase } from '../src/testing.js';
import { adminQuery, closedPort } from './helpers.js';

async function failure(promise: Promise<unknown>): Promise<{ error: unknown; millis: number }> {
  const started = Date.now();
  try {
    await promise;
  } catch (error) {
    return { error, millis: Date.now() - started };
  }
  throw new Error('expected the query to fail');
}

// One migrated database for the whole file (both describes read it; neither changes what the other reads).
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe('createPrismaClient', () => {
  it('queries a migrated database across both schemas', async () => {
    const prisma = createPrismaClient(db.url);
    try {
      const user = await prisma.user.create({ data: { username: 'ada', passwordHash: 'x' } });
      expect(user.status).toBe(UserStatus.active);
      const client = await prisma.apiClient.create({ data: { name: 'partner', secretHash: 'h' } });
      expect(client.allowedScopes).toEqual([]);
      expect(await prisma.user.count()).toBe(1);
    } finally {
      await prisma.$disconnect();
    }
  });

  it('fails within ~3 s with a "database unavailable" error when nothing listens', async () => {
    const prisma = createPrismaClient(`postgresql://postgres@127.0.0.1:${await closedPort()}/postgres`);
    try {
      const { error, millis } = await failure(prisma.user.findFirst());
      expect(millis).toBeLessThan(3_000);
      expect(isDatabaseUnavailableError(error)).toBe(true);
      const raw = await failure(prisma.$queryRaw`SELECT 1`);
      expect(isDatabaseUnavailableError(raw.error)).toBe(true);
    } finally {
      await prisma.$disconnect();
    }
  });

  it('gives up after the connection timeout when the server never answers', async () => {
    // Accepts TCP connections and says nothing, like a hung server or a dropped route.
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const prisma = createPrismaClient(`postgresql://postgres@127.0.0.1:${port}/postgres`, {
      connectionTimeoutMillis: 500,
    });
    try {
      const { error, millis } = await failure(prisma.user.findFirst());
      expect(millis).toBeGreaterThanOrEqual(450);
      expect(millis).toBeLessThan(2_000);
      expect(isDatabaseUnavailableError(error)).toBe(true);
    } finally {
      await prisma.$disconnect();
      silent.close();
    }
  });

  it('defaults to a connection timeout of about 2 s', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const prisma = createPrismaClient(`postgresql://postgres@127.0.0.1:${port}/postgres`);
    try {
      const { error, millis } = await failure(prisma.$queryRaw`SELECT 1`);
      expect(millis).toBeGreaterThanOrEqual(1_900);
      expect(millis).toBeLessThan(3_000);
      expect(isDatabaseUnavailableError(error)).toBe(true);
    } finally {
      await prisma.$disconnect();
      silent.close();
    }
  });

  it('reports a connection killed by the server as unavailable', async () => {
    const prisma = createPrismaClient(db.url, { applicationName: 'mxp-db-kill-test' });
    try {
      const sleeping = failure(prisma.$queryRaw`SELECT pg_sleep(10)`);
      await expect
        .poll(() => adminQuery(`SELECT pid FROM pg_stat_activity WHERE application_name = 'mxp-db-kill-test'`))
        .toHaveLength(1);
      await adminQuery(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mxp-db-kill-test'`,
      );
      const { error } = await sleeping;
      expect(isDatabaseUnavailableError(error)).toBe(true);
      // The pool replaces the dead connection.
      expect(await prisma.$queryRaw`SELECT 1 AS one`).toEqual([{ one: 1 }]);
    } finally {
      await prisma.$disconnect();
    }
  });

  it('applies the statement timeout, which is not an availability problem', async () => {
    const prisma = createPrismaClient(db.url, { statementTimeoutMillis: 100 });
    try {
      const { error, millis } = await failure(prisma.$queryRaw`SELECT pg_sleep(2)`);
      expect(millis).toBeLessThan(1_500);
      expect(String(error)).toMatch(/statement timeout/);
      expect(isDatabaseUnavailableError(error)).toBe(false);
    } finally {
      await prisma.$disconnect();
    }
  });

  it('does not count query errors as unavailability', async () => {
    const prisma = createPrismaClient(db.url);
    try {
      await prisma.user.create({ data: { username: 'dup', passwordHash: 'x' } });
      const { error } = await failure(prisma.user.create({ data: { username: 'dup', passwordHash: 'x' } }));
      expect(error).toBeInstanceOf(Prisma.PrismaClientKnownRequestError);
      expect((error as Prisma.PrismaClientKnownRequestError).code).toBe('P2002');
      expect(isDatabaseUnavailableError(error)).toBe(false);
    } finally {
      await prisma.$disconnect();
    }
  });

  it('hands its pg pool to pgPoolOf (its settings, closed with the client), and no other client has one', async () => {
    const prisma = createPrismaClient(db.url, { statementTimeoutMillis: 100, applicationName: 'mxp-pool-test' });
    const pool = pgPoolOf(prisma);
    expect(pool).toBeDefined();
    const other = createPrismaClient(db.url);
    expect(pgPoolOf(other)).toBeDefined();
    expect(pgPoolOf(other)).not.toBe(pool);
    await other.$disconnect();
    expect(pgPoolOf(prisma.$extends({}) as unknown as typeof prisma)).toBeUndefined();
    const { rows } = await (pool as NonNullable<typeof pool>).query(
      "SELECT current_setting('application_name') AS name, current_setting('statement_timeout') AS timeout",
    );
    expect(rows).toEqual([{ name: 'mxp-pool-test', timeout: '100ms' }]);
    // The same connection-level failures are recognised on it.
    const { error } = await failure((pool as NonNullable<typeof pool>).query('SELECT pg_sleep(2)'));
    expect(String(error)).toMatch(/statement timeout/);
    expect(isDatabaseUnavailableError(error)).toBe(false);
    // Ended by $disconnect although Prisma itself never connected.
    await prisma.$disconnect();
    expect(pool?.ended).toBe(true);
  });
});

describe('queryNamed', () => {
  const statement = {
    name: 'mxp.query_named_test/1',
    text: "SELECT $1::int + 1 AS next, $2::timestamptz AS at, 'x' AS label",
    values: [41, new Date('2030-01-02T03:04:05.678Z')],
  };
  const expected = [{ next: 42, at: new Date('2030-01-02T03:04:05.678Z'), label: 'x' }];

  it("prepares the statement under its name on the client's pool, once per connection", async () => {
    const prisma = createPrismaClient(db.url, { poolMax: 1 });
    try {
      expect(await queryNamed(prisma, statement)).toEqual(expected);
      expect(await queryNamed(prisma, { ...statement, values: [1, statement.values[1]] })).toEqual([
        { ...expected[0], next: 2 },
      ]);
      const pool = pgPoolOf(prisma) as NonNullable<ReturnType<typeof pgPoolOf>>;
      const { rows } = await pool.query('SELECT name FROM pg_prepared_statements WHERE from_sql = false');
      expect(rows).toEqual([{ name: statement.name }]);
    } finally {
      await prisma.$disconnect();
    }
  });

  it('runs the same text and values through Prisma on a client without a pool', async () => {
    const prisma = createPrismaClient(db.url);
    try {
      const extended = prisma.$extends({}) as unknown as typeof prisma;
      expect(pgPoolOf(extended)).toBeUndefined();
      expect(await queryNamed(extended, statement)).toEqual(expected);
    } finally {
      await prisma.$disconnect();
    }
  });
});

describe('isDatabaseUnavailableError', () => {
  const socketError = (code: string) =>
    Object.assign(new Error(`connect ${code}`), { code, syscall: 'connect', errno: -1 });

  it.each([
    ['a Prisma "can\'t reach database" error', Object.assign(new Error('x'), { code: 'P1001' })],
    ['a pool timeout (P2024)', Object.assign(new Error('x'), { code: 'P2024' })],
    [
      'an initialization error',
      Object.assign(new Error('x'), { name: 'PrismaClientInitializationError', errorCode: 'P1001' }),
    ],
    [
      'a driver adapter error',
      Object.assign(new Error('x'), { name: 'DriverAdapterError', cause: { kind: 'ConnectionClosed' } }),
    ],
    ['pg ECONNREFUSED', socketError('ECONNREFUSED')],
    ['pg ECONNRESET', socketError('ECONNRESET')],
    [
      'an AggregateError of refusals (localhost)',
      new AggregateError([socketError('ECONNREFUSED'), socketError('ECONNREFUSED')]),
    ],
    ['SQLSTATE 57P01 (admin shutdown)', Object.assign(new Error('terminating connection'), { code: '57P01' })],
    ['SQLSTATE 08006 (connection failure)', Object.assign(new Error('x'), { code: '08006' })],
    ['a pg connection timeout', new Error('Connection terminated due to connection timeout')],
    ['a wrapped cause', new Error('outer', { cause: socketError('ETIMEDOUT') })],
  ])('recognises %s', (_label, error) => {
    expect(isDatabaseUnavailableError(error)).toBe(true);
  });

  it.each([
    ['a unique violation', Object.assign(new Error('x'), { code: 'P2002' })],
    ['an authentication failure', Object.assign(new Error('x'), { code: 'P1000' })],
    ['a syntax error', Object.assign(new Error('syntax error'), { code: '42601' })],
    ['a plain error', new Error('boom')],
    ['a string', 'ECONNREFUSED'],
    ['null', null],
  ])('rejects %s', (_label, error) => {
    expect(isDatabaseUnavailableError(error)).toBe(false);
  });
});
