import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../src/embedded.js';
import { createPrismaClient } from '../src/index.js';
import { migrateDatabase } from '../src/migrate.js';
import { closedPort } from './helpers.js';

// PGlite takes about a second to start, and replays the migrations more slowly than a server.
describe('startEmbeddedPostgres', { timeout: 60_000 }, () => {
  let dataDir: string;
  let port: number;
  let server: EmbeddedPostgres | undefined;

  beforeAll(async () => {
    dataDir = join(await mkdtemp(join(tmpdir(), 'mxp-db-embedded-')), 'data');
    port = await closedPort();
  });

  afterAll(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves PostgreSQL on the given port, migrated by the WASM schema engine', async () => {
    server = await startEmbeddedPostgres({ dataDir, port });
    expect(server.url).toBe(`postgresql://postgres@127.0.0.1:${port}/postgres`);
    const { applied } = await migrateDatabase({ databaseUrl: server.url });
    expect(applied.length).toBeGreaterThan(0);
    expect((await migrateDatabase({ databaseUrl: server.url })).applied).toEqual([]);
  });

  it('serves Prisma, including concurrent queries and transactions over several connections', async () => {
    if (server === undefined) throw new Error('server not started');
    const prisma = createPrismaClient(server.url, { poolMax: 8 });
    try {
      const app = await prisma.application.create({ data: { name: 'portal' } });
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          prisma.$transaction(async (tx) => {
            const user = await tx.user.create({ data: { username: `user${i}`, passwordHash: 'x' } });
            await tx.session.create({
              data: {
                userId: user.id,
                applicationId: app.id,
                idleExpiresAt: new Date(Date.now() + 60_000),
                absoluteExpiresAt: new Date(Date.now() + 600_000),
              },
            });
          }),
        ),
      );
      const counts = await Promise.all(Array.from({ length: 40 }, () => prisma.session.count()));
      expect(new Set(counts)).toEqual(new Set([40]));
      expect(await prisma.user.count()).toBe(40);
    } finally {
      await prisma.$disconnect();
    }
  });

  it('keeps concurrent extended-protocol queries apart, even when large parameters span several packets', async () => {
    if (server === undefined) throw new Error('server not started');
    const pool = new pg.Pool({ connectionString: server.url, max: 10 });
    try {
      // 2 MB parameters arrive in several TCP packets; without grouping until Sync, another connection's Parse ran
      // in between ("bind message supplies 2 parameters, but prepared statement "" requires 3").
      const big = 'x'.repeat(2_000_000);
      const results = await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          if (i % 10 === 0) {
            const { rows } = await pool.query('SELECT length($1::text) AS n, $2::int AS i', [big, i]);
            return rows[0].n === big.length && rows[0].i === i;
          }
          if (i % 10 === 1) {
            // An error in the middle of a sequence must not disturb the others.
            return pool.query('SELECT 1 / $1::int', [0]).then(
              () => false,
              (err: Error) => /division by zero/.test(err.message),
            );
          }
          const { rows } = await pool.query('SELECT $1::text || $2::text AS s, $3::int AS k', [String(i), 'x', i]);
          return rows[0].s === `${i}x` && rows[0].k === i;
        }),
      );
      expect(results.every(Boolean)).toBe(true);
    } finally {
      await pool.end();
    }
  });

  it('lets every connection prepare the same named statement, new connections included (one shared session)', async () => {
    if (server === undefined) throw new Error('server not started');
    const statement = { name: 'embedded-test.named/1', text: 'SELECT $1::int * 2 AS doubled' };
    const run = async (pool: pg.Pool, value: number) => (await pool.query({ ...statement, values: [value] })).rows[0];
    const first = new pg.Pool({ connectionString: server.url, max: 8 });
    try {
      // Eight connections parse the name at once; each then runs it again from its own record of having parsed it.
      const results = await Promise.all(Array.from({ length: 32 }, (_, i) => run(first, i)));
      expect(results).toEqual(Array.from({ length: 32 }, (_, i) => ({ doubled: i * 2 })));
    } finally {
      await first.end();
    }
    // As after the pool replaced an idle connection: a new connection parses the name again.
    const second = new pg.Pool({ connectionString: server.url, max: 1 });
    try {
      expect(await run(second, 21)).toEqual({ doubled: 42 });
      expect(await run(second, 5)).toEqual({ doubled: 10 });
    } finally {
      await second.end();
    }
  });

  it('keeps the data across stop and start', async () => {
    await server?.stop();
    server = await startEmbeddedPostgres({ dataDir, port });
    const prisma = createPrismaClient(server.url);
    try {
      expect(await prisma.user.count()).toBe(40);
      expect((await migrateDatabase({ databaseUrl: server.url })).applied).toEqual([]);
    } finally {
      await prisma.$disconnect();
    }
  });

  it('picks a free port when asked for port 0, and runs in memory without a data folder', async () => {
    const memory = await startEmbeddedPostgres();
    try {
      expect(memory.url).toMatch(/^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
      expect(memory.url).not.toContain(':0/');
      const client = new pg.Client({ connectionString: memory.url });
      await client.connect();
      const { rows } = await client.query('SELECT current_database() AS db');
      expect(rows).toEqual([{ db: 'postgres' }]);
      await client.end();
    } finally {
      await memory.stop();
    }
  });
});
