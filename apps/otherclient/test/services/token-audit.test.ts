import { randomUUID } from 'node:crypto';
import { createPrismaClient, type PrismaClient, uuidV7 } from '@mxp/db';
import { createTestDatabase, type TestDatabase } from '@mxp/db/testing';
import { type DbProxy, hostAndPort, startDbProxy } from '@mxp/testing/db-proxy';
import { until } from '@mxp/testing/faults';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  TokenAuditWriter,
  type TokenAuditWriterOptions,
  type TokenRequestRecord,
} from '../../src/services/token-audit.js';

let database: TestDatabase;
/** Connected directly, to check what was written. */
let db: PrismaClient;
let proxy: DbProxy;
/** Connected through a proxy the tests cut, as the app's pool when the database goes away. */
let proxied: PrismaClient;
const writers: TokenAuditWriter[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  db = createPrismaClient(database.url, { poolMax: 4 });
  const target = hostAndPort(database.url);
  proxy = await startDbProxy(target.port, target.host);
  proxied = createPrismaClient(proxy.urlThrough(database.url), {
    poolMax: 4,
    connectionTimeoutMillis: 300,
    queryTimeoutMillis: 1_000,
  });
});
afterEach(async () => {
  proxy.flush();
  proxy.restore();
  await Promise.all(writers.splice(0).map((writer) => writer.close()));
});
afterAll(async () => {
  await proxy?.close();
  await proxied?.$disconnect();
  await db?.$disconnect();
  await database?.drop();
});

function logSpy() {
  return { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
}

/** A writer closed after the test; `client` defaults to the direct connection. */
function writer(options: Partial<TokenAuditWriterOptions> = {}, client: PrismaClient = db) {
  const created = new TokenAuditWriter(client, { maxBufferedRows: 10_000, log: logSpy(), ...options });
  writers.push(created);
  return created;
}

/** `client` with its token audit INSERTs (rows per statement) and "last used" UPDATEs counted. */
function counting(client: PrismaClient) {
  const inserts: number[] = [];
  const updates: string[][] = [];
  const wrapped = new Proxy(client, {
    get(target, property) {
      if (property === '$executeRaw') {
        // The INSERT's one parameter is the JSON array of its rows.
        return (strings: TemplateStringsArray, ...values: unknown[]) => {
          inserts.push((JSON.parse(values[0] as string) as unknown[]).length);
          return target.$executeRaw(strings, ...values);
        };
      }
      if (property === 'apiClient') {
        return {
          updateMany: (args: Parameters<PrismaClient['apiClient']['updateMany']>[0]) => {
            updates.push((args.where?.id as { in: string[] } | undefined)?.in ?? []);
            return target.apiClient.updateMany(args);
          },
        };
      }
      return Reflect.get(target, property);
    },
  });
  return { client: wrapped as PrismaClient, inserts, updates };
}

/** `count` failed attempts of one client id of its own, numbered in their IP addresses. */
function failures(count: number, clientId = randomUUID()): { clientId: string; records: TokenRequestRecord[] } {
  const records = Array.from(
    { length: count },
    (_, i): TokenRequestRecord => ({
      clientId,
      ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      result: 'failed',
      reason: 'bad_secret',
      grantType: 'api_token',
    }),
  );
  return { clientId, records };
}

function written(clientId: string) {
  return db.tokenAudit.count({ where: { clientId } });
}

describe('TokenAuditWriter', () => {
  it('writes nothing while requests record, then the rows of the interval in one INSERT, dated when recorded', async () => {
    const { client, inserts } = counting(db);
    const audit = writer({ flushIntervalMs: 500 }, client);
    const { clientId, records } = failures(10);
    const recordedAt = new Date(Date.now() - 5_000);
    for (const record of records) audit.record(record, recordedAt);
    const recordedBy = performance.now();
    expect(audit.pending).toBe(10);
    const before = await written(clientId);
    // Nothing was written before the interval (unless the count itself took that long on a loaded machine).
    if (performance.now() - recordedBy < 400) expect(before).toBe(0);
    await until(async () => (await written(clientId)) === 10, 5_000);
    expect(inserts).toEqual([10]);
    const rows = await db.tokenAudit.findMany({ where: { clientId } });
    expect(rows.every((row) => row.createdAt.getTime() === recordedAt.getTime())).toBe(true);
    expect(rows.map((row) => row.ip).sort()).toEqual(records.map((record) => record.ip).sort());
  });

  it('stores what PostgreSQL text cannot hold (U+0000, lone surrogates) without failing, and absent values as NULL', async () => {
    const audit = writer();
    const marker = randomUUID();
    audit.record({
      clientId: `${marker}\u0000\ud800`,
      ip: '10.0.0.1',
      result: 'failed',
      reason: 'unknown_client',
      grantType: 'api_token',
    });
    audit.record({
      clientId: undefined,
      ip: marker,
      result: 'failed',
      reason: 'malformed_credentials',
      grantType: 'revocation',
    });
    await audit.flush();
    expect(audit.pending).toBe(0);
    expect(await db.tokenAudit.findMany({ where: { clientId: { startsWith: marker } } })).toEqual([
      expect.objectContaining({ clientId: `${marker}\uFFFD\uFFFD`, tokenId: null }),
    ]);
    expect(await db.tokenAudit.findMany({ where: { ip: marker } })).toEqual([
      expect.objectContaining({ clientId: null, grantType: 'revocation', reason: 'malformed_credentials' }),
    ]);
  });

  it('writes a full batch at once, in INSERTs of at most batchRows', async () => {
    const { client, inserts } = counting(db);
    const audit = writer({ flushIntervalMs: 60_000, batchRows: 500 }, client);
    const { clientId, records } = failures(1_200);
    for (const record of records) audit.record(record);
    // A full batch does not wait for the interval (a minute here); the rest of it went out right after.
    await until(async () => (await written(clientId)) >= 1_000, 15_000);
    expect(inserts.slice(0, 2)).toEqual([500, 500]);
    await audit.flush();
    expect(await written(clientId)).toBe(1_200);
    expect(inserts).toEqual([500, 500, 200]);
  }, 20_000);

  it('keeps the rows while the database is away and writes them once it is back, none twice', async () => {
    const log = logSpy();
    const audit = writer({ flushIntervalMs: 60_000, retryDelayMs: 50, log }, proxied);
    const { clientId, records } = failures(5);
    for (const record of records) audit.record(record);
    // The INSERT commits but its answer never arrives: the connection is lost first.
    await proxied.$queryRaw`SELECT 1`;
    proxy.hold();
    const flushing = audit.flush();
    await until(async () => (await written(clientId)) === 5, 2_000);
    proxy.cut('reset');
    await flushing;
    expect(audit.pending).toBe(5);
    expect(log.warn).toHaveBeenCalledWith(
      expect.objectContaining({ pendingRows: 5 }),
      'token audit: rows not written, kept in memory and retried',
    );
    proxy.flush();
    proxy.restore();
    await until(() => audit.pending === 0, 5_000);
    expect(await written(clientId)).toBe(5);
    expect(log.info).toHaveBeenCalledWith({ pendingRows: 0 }, 'token audit: database writable again');
  });

  it('holds at most maxBufferedRows while the database is away, dropping, counting and logging the rest', async () => {
    const log = logSpy();
    const audit = writer({ flushIntervalMs: 10, retryDelayMs: 50, maxBufferedRows: 100, log }, proxied);
    proxy.cut('reset');
    const { clientId, records } = failures(150);
    const started = performance.now();
    for (const record of records) audit.record(record);
    // Recording never waits for the database.
    expect(performance.now() - started).toBeLessThan(50);
    expect(audit.pending).toBe(100);
    expect(audit.dropped).toBe(50);
    expect(log.error).toHaveBeenCalledWith(
      expect.objectContaining({ droppedRows: 1, droppedTotal: 1, maxBufferedRows: 100 }),
      'token audit: buffer full (database unavailable), rows dropped',
    );
    await until(() => log.warn.mock.calls.length > 0, 5_000);
    proxy.restore();
    await until(() => audit.pending === 0, 5_000);
    // The first 100 were kept; the drops not yet logged are reported once the database is back.
    const ips = (await db.tokenAudit.findMany({ where: { clientId } })).map((row) => row.ip).sort();
    expect(ips).toEqual(
      records
        .slice(0, 100)
        .map((record) => record.ip)
        .sort(),
    );
    expect(log.error).toHaveBeenLastCalledWith(
      expect.objectContaining({ droppedRows: 49, droppedTotal: 50 }),
      'token audit: buffer full (database unavailable), rows dropped',
    );
  });

  it('gives up a batch the database itself refuses three times, logging it, and goes on with the next rows', async () => {
    const log = logSpy();
    const poison = randomUUID();
    // A database that refuses (22P02, not a lost connection) any batch holding the poison client id.
    const refusing = new Proxy(db, {
      get(target, property) {
        if (property !== '$executeRaw') return Reflect.get(target, property);
        return (strings: TemplateStringsArray, ...values: unknown[]) =>
          (values[0] as string).includes(poison)
            ? Promise.reject(Object.assign(new Error('invalid input value'), { code: '22P02' }))
            : target.$executeRaw(strings, ...values);
      },
    });
    const audit = writer({ flushIntervalMs: 60_000, log }, refusing);
    for (const record of failures(2, poison).records) audit.record(record);
    await audit.flush();
    await audit.flush();
    expect(audit.pending).toBe(2);
    await audit.flush();
    expect(audit.pending).toBe(0);
    expect(audit.dropped).toBe(2);
    expect(log.error).toHaveBeenCalledWith(
      expect.objectContaining({ droppedRows: 2 }),
      'token audit: rows refused by the database, dropped',
    );
    const { clientId, records } = failures(3);
    for (const record of records) audit.record(record);
    await audit.flush();
    expect(await written(clientId)).toBe(3);
  });

  it('writes what is buffered on close, and logs what the database did not take', async () => {
    const audit = new TokenAuditWriter(db, { flushIntervalMs: 60_000, maxBufferedRows: 1_000, log: logSpy() });
    const { clientId, records } = failures(3);
    for (const record of records) audit.record(record);
    await audit.close();
    expect(await written(clientId)).toBe(3);

    const log = logSpy();
    const lost = new TokenAuditWriter(proxied, { flushIntervalMs: 60_000, maxBufferedRows: 1_000, log });
    for (const record of failures(2).records) lost.record(record);
    proxy.cut('reset');
    await lost.close();
    expect(log.error).toHaveBeenCalledWith(
      { lostRows: 2 },
      'token audit: rows not written at shutdown (database unavailable)',
    );
  });

  it('writes a client’s "last used" with the flush, at most once a minute, and only for issued tokens', async () => {
    const created = await db.apiClient.create({ data: { name: 'Used', secretHash: 'hmac-sha256$x' } });
    const { client, updates } = counting(db);
    const audit = writer({ flushIntervalMs: 60_000 }, client);
    const issued = (at: Date) =>
      audit.record(
        { clientId: created.id, ip: '10.0.0.1', result: 'issued', reason: 'current_secret', grantType: 'api_token' },
        at,
      );
    const lastUsed = async () => (await db.apiClient.findUniqueOrThrow({ where: { id: created.id } })).lastUsedAt;
    const t0 = new Date(Date.now() - 600_000);
    audit.record({
      clientId: created.id,
      ip: '10.0.0.1',
      result: 'failed',
      reason: 'bad_secret',
      grantType: 'api_token',
    });
    await audit.flush();
    expect(await lastUsed()).toBeNull();
    issued(t0);
    issued(new Date(t0.getTime() + 1_000));
    await audit.flush();
    expect(await lastUsed()).toEqual(new Date(t0.getTime() + 1_000));
    issued(new Date(t0.getTime() + 30_000));
    await audit.flush();
    expect(updates).toEqual([[created.id]]);
    issued(new Date(t0.getTime() + 61_000));
    await audit.flush();
    expect(await lastUsed()).toEqual(new Date(t0.getTime() + 61_000));
    expect(updates).toHaveLength(2);
  });
});

describe('uuidV7', () => {
  it('is a version 7 UUID beginning with the milliseconds, so ids sort by time', () => {
    const ms = Date.parse('2031-01-02T03:04:05.678Z');
    const id = uuidV7(ms);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number.parseInt(id.replace('-', '').slice(0, 12), 16)).toBe(ms);
    expect(uuidV7(ms + 1) > uuidV7(ms)).toBe(true);
    expect(uuidV7(ms)).not.toBe(uuidV7(ms));
  });
});
