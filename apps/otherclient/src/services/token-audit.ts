import { isDatabaseUnavailableError, type PrismaClient, uuidV7 } from '@mxp/db';
import { ClientUseRecorder } from './clients.js';

export interface TokenRequestRecord {
  /** The client id as presented (it may name no client); cut to a bounded length. */
  clientId: string | undefined;
  ip: string;
  result: 'issued' | 'failed';
  /** Why it failed (`unknown_client`, `bad_secret`, `disabled_client`, `invalid_scope`) or the secret used. */
  reason: string;
  tokenId?: string;
  /** Which endpoint authenticated the client. */
  grantType: 'api_token' | 'client_credentials' | 'introspection' | 'revocation';
}

/** Where the writer reports trouble (the app's logger). */
export interface AuditWriterLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface TokenAuditWriterOptions {
  /** Longest a row waits in memory before its INSERT starts (default 100 ms). */
  flushIntervalMs?: number;
  /** Rows per INSERT; a full batch is written at once, without waiting for the interval (default 500). */
  batchRows?: number;
  /** Most rows held while the database does not take them; further rows are dropped, counted and logged. */
  maxBufferedRows: number;
  /** Delay before writing again after a failed write (default 1,000 ms). */
  retryDelayMs?: number;
  log: AuditWriterLog;
  /** Told of every record as it is made, dropped or not (the service's metrics). */
  observe?: (record: TokenRequestRecord) => void;
}

/** At most one log line about a failing database or dropped rows per this interval. */
const REPORT_INTERVAL_MS = 30_000;
/** Attempts at a batch the database refuses (rather than being unreachable) before it is dropped. */
const MAX_REFUSALS = 3;

/**
 * The token audit trail (`otherclient.token_audit`), written in batches: a request only appends its row in memory,
 * and every `flushIntervalMs` (or `batchRows` rows) one multi-row INSERT writes what accumulated. Issuing a token
 * thus costs no database write; the price is that a crash loses the rows of the last interval (tokens themselves are
 * stateless JWTs, nothing else is lost). The app flushes on close.
 *
 * While the database does not take the rows they are kept and written again later, up to `maxBufferedRows`; beyond
 * that new rows are dropped, counted ({@link dropped}) and logged, never making a response wait or fail. Each row's
 * id is made when it is recorded, so a write retried after an ambiguous failure (the connection lost after the
 * commit) inserts nothing twice. A batch the database itself refuses three times running is dropped and logged rather
 * than retried forever. A row's `createdAt` is when it was recorded, not when it was written.
 *
 * The clients' "last used" is written in the same flush, from the issued rows (see {@link ClientUseRecorder}).
 */
export class TokenAuditWriter {
  readonly #db: PrismaClient;
  readonly #flushIntervalMs: number;
  readonly #batchRows: number;
  readonly #maxBufferedRows: number;
  readonly #retryDelayMs: number;
  readonly #log: AuditWriterLog;
  readonly #observe: ((record: TokenRequestRecord) => void) | undefined;
  readonly #clientUse = new ClientUseRecorder();
  #buffer: AuditRow[] = [];
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #failing = false;
  #closed = false;
  /** Consecutive refusals of the first batch by a reachable database. */
  #refusals = 0;
  #lastFailureReportAt = Number.NEGATIVE_INFINITY;
  #dropped = 0;
  #droppedUnreported = 0;
  #lastDropReportAt = Number.NEGATIVE_INFINITY;

  constructor(db: PrismaClient, options: TokenAuditWriterOptions) {
    this.#db = db;
    this.#flushIntervalMs = options.flushIntervalMs ?? 100;
    this.#batchRows = options.batchRows ?? 500;
    this.#maxBufferedRows = options.maxBufferedRows;
    this.#retryDelayMs = options.retryDelayMs ?? 1_000;
    this.#log = options.log;
    this.#observe = options.observe;
  }

  /** Appends one row (never a secret) to be written with the next batch; never waits and never throws. */
  record(record: TokenRequestRecord, now: Date = new Date()): void {
    this.#observe?.(record);
    if (this.#buffer.length >= this.#maxBufferedRows) {
      this.#drop(now.getTime());
      return;
    }
    this.#buffer.push({
      id: uuidV7(now.getTime()),
      // Stored as presented but bounded, without U+0000 and lone surrogates, which PostgreSQL text cannot hold.
      client_id: record.clientId?.slice(0, 200).replaceAll('\u0000', '\uFFFD').toWellFormed() ?? null,
      ip: record.ip.slice(0, 100).toWellFormed(),
      result: record.result,
      reason: record.reason,
      token_id: record.tokenId ?? null,
      grant_type: record.grantType,
      created_at: now,
    });
    if (record.result === 'issued' && record.clientId !== undefined) {
      this.#clientUse.note(record.clientId, now.getTime());
    }
    if (this.#buffer.length >= this.#batchRows && this.#writing === undefined && !this.#failing) void this.flush();
    else this.#schedule(this.#flushIntervalMs);
  }

  /**
   * Writes every row recorded so far (after the write under way, if any). Resolves when done, or when the database
   * refused them (the rows stay buffered and are tried again later): it never rejects.
   */
  async flush(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
    if (this.#buffer.length === 0 && this.#clientUse.pending === 0) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const writing = this.#writeBuffered().finally(() => {
      this.#writing = undefined;
      if (this.#failing) this.#schedule(this.#retryDelayMs);
      // A full batch accumulated during the write: no reason to wait.
      else if (this.#buffer.length >= this.#batchRows) void this.flush();
      else if (this.#buffer.length > 0 || this.#clientUse.pending > 0) this.#schedule(this.#flushIntervalMs);
    });
    this.#writing = writing;
    await writing;
  }

  /** Writes what is buffered, once; what the database does not take then is lost, and logged as such. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    while (this.#writing !== undefined) await this.#writing;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#buffer.length > 0) {
      this.#log.error(
        { lostRows: this.#buffer.length },
        'token audit: rows not written at shutdown (database unavailable)',
      );
    }
  }

  /** Rows waiting to be written. */
  get pending(): number {
    return this.#buffer.length;
  }

  /** Rows dropped since the start because the buffer was full. */
  get dropped(): number {
    return this.#dropped;
  }

  #schedule(delayMs: number): void {
    if (this.#closed || this.#timer !== undefined || this.#writing !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, delayMs);
    // Pending rows do not keep a finished process alive: close() writes them.
    this.#timer.unref();
  }

  async #writeBuffered(): Promise<void> {
    // The rows present now; rows recorded meanwhile go with the next flush, so a busy service cannot keep one going.
    let remaining = this.#buffer.length;
    while (remaining > 0) {
      const batch = this.#buffer.slice(0, Math.min(this.#batchRows, remaining));
      try {
        await insertRows(this.#db, batch);
        this.#refusals = 0;
      } catch (error) {
        // The database refused this batch itself (not a lost connection) a few times: retrying forever would block
        // every row after it, so it is given up, loudly.
        if (isDatabaseUnavailableError(error) || ++this.#refusals < MAX_REFUSALS) {
          this.#writeFailed(error);
          return;
        }
        this.#refusals = 0;
        this.#dropped += batch.length;
        this.#log.error(
          { err: error, droppedRows: batch.length },
          'token audit: rows refused by the database, dropped',
        );
      }
      // Rows are only ever added at the end (a full buffer drops new rows), so the batch is still at the start.
      this.#buffer.splice(0, batch.length);
      remaining -= batch.length;
    }
    try {
      await this.#clientUse.write(this.#db);
    } catch (error) {
      this.#writeFailed(error);
      return;
    }
    if (this.#failing) {
      this.#failing = false;
      this.#lastFailureReportAt = Number.NEGATIVE_INFINITY;
      this.#log.info({ pendingRows: this.#buffer.length }, 'token audit: database writable again');
    }
    if (this.#droppedUnreported > 0) this.#reportDrops(Date.now());
  }

  #writeFailed(error: unknown): void {
    const now = Date.now();
    if (!this.#failing || now - this.#lastFailureReportAt >= REPORT_INTERVAL_MS) {
      this.#lastFailureReportAt = now;
      this.#log.warn(
        { err: error, pendingRows: this.#buffer.length, maxBufferedRows: this.#maxBufferedRows },
        'token audit: rows not written, kept in memory and retried',
      );
    }
    this.#failing = true;
  }

  #drop(now: number): void {
    this.#dropped++;
    this.#droppedUnreported++;
    if (now - this.#lastDropReportAt >= REPORT_INTERVAL_MS) this.#reportDrops(now);
  }

  #reportDrops(now: number): void {
    this.#lastDropReportAt = now;
    this.#log.error(
      { droppedRows: this.#droppedUnreported, droppedTotal: this.#dropped, maxBufferedRows: this.#maxBufferedRows },
      'token audit: buffer full (database unavailable), rows dropped',
    );
    this.#droppedUnreported = 0;
  }
}

/** A row of `otherclient.token_audit` as buffered: named by its columns, the JSON the INSERT reads. */
interface AuditRow {
  id: string;
  client_id: string | null;
  ip: string;
  result: 'issued' | 'failed';
  reason: string;
  token_id: string | null;
  grant_type: string;
  created_at: Date;
}

/**
 * One INSERT of many rows, passed as one JSON parameter: the statement and its single parameter cost the same
 * whatever the number of rows, where Prisma's `createMany` compiles and serializes every row (it cost a quarter of the
 * service's CPU at 2,000 grants/s) and one array parameter per column half as much again as this. A row already
 * there (a retried write) is skipped.
 */
async function insertRows(db: PrismaClient, rows: readonly AuditRow[]): Promise<void> {
  await db.$executeRaw`
    INSERT INTO "otherclient"."token_audit" (id, client_id, ip, result, reason, token_id, grant_type, created_at)
    SELECT id, client_id, ip, result, reason, token_id, grant_type, created_at
    FROM json_populate_recordset(NULL::"otherclient"."token_audit", ${JSON.stringify(rows)}::json)
    ON CONFLICT (id) DO NOTHING`;
}
