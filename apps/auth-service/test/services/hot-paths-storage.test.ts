// What keeps refreshes and sign-ins cheap for the database, which the outcome tests (refresh.test.ts, the routes' tests)
// do not see: a refresh's row updates are heap-only (HOT: no index entry written) thanks to the fillfactor of migration
// refresh_hot_updates, and the hot pool statements are named prepared statements, parsed and planned once per
// connection. One pooled connection, so that every statement here runs on the connection that made the calls.
import { type Application, type PrismaClient, pgPoolOf } from '@mxp/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backoffPolicy, checkCredentialsWithBackoff } from '../../src/services/backoff.js';
import { unmatchablePasswordHash } from '../../src/services/passwords.js';
import { refreshSession } from '../../src/services/refresh.js';
import { openSession } from '../../src/services/sessions.js';
import { startTestApp } from '../helpers.js';
import { CHEAP_HASH, createApplication, createUser, type TestUser } from '../routes/support.js';

let testApp: Awaited<ReturnType<typeof startTestApp>>;
let db: PrismaClient;
let user: TestUser;
let application: Application;

beforeAll(async () => {
  testApp = await startTestApp({ DATABASE_POOL_MAX: '1' });
  db = testApp.db;
  user = await createUser(db);
  application = await createApplication(db);
});
afterAll(async () => {
  await testApp?.close();
});

const ORIGIN = { ip: '10.1.2.3', userAgent: 'refresh-storage-test' };

async function openAndRefresh(times: number): Promise<void> {
  const now = new Date();
  let { refreshToken } = await openSession(
    db,
    { userId: user.id, application, deviceInfo: undefined, origin: ORIGIN },
    now,
  );
  for (let i = 0; i < times; i += 1) {
    const outcome = await refreshSession(db, refreshToken, 10, ORIGIN, now);
    if (!outcome.ok || outcome.refreshToken === undefined)
      throw new Error(`refresh failed: ${JSON.stringify(outcome)}`);
    refreshToken = outcome.refreshToken;
  }
}

/** Updates and HOT updates of the table so far, this connection's pending counts flushed first. */
async function updates(table: 'sessions' | 'refresh_tokens'): Promise<{ all: number; hot: number }> {
  await db.$executeRaw`SELECT pg_stat_force_next_flush()`;
  const [row] = await db.$queryRawUnsafe<Array<{ all: number; hot: number }>>(
    `SELECT n_tup_upd::int AS "all", n_tup_hot_upd::int AS hot FROM pg_stat_user_tables
      WHERE schemaname = 'auth' AND relname = $1`,
    table,
  );
  if (!row) throw new Error(`no statistics for auth.${table}`);
  return row;
}

/** Executions of the named statement on this connection since it was prepared (0: never prepared). */
async function executions(name: string): Promise<number> {
  const [statement] = await db.$queryRaw<Array<{ executions: number }>>`
    SELECT (generic_plans + custom_plans)::int AS executions FROM pg_prepared_statements WHERE name = ${name}`;
  return statement?.executions ?? 0;
}

describe('refresh and sign-in statements', () => {
  it('leaves room on the pages of sessions and refresh tokens (fillfactor 70)', async () => {
    const rows = await db.$queryRaw<Array<{ relname: string; reloptions: string[] | null }>>`
      SELECT relname, reloptions FROM pg_class
       WHERE relnamespace = 'auth'::regnamespace AND relname IN ('sessions', 'refresh_tokens') ORDER BY relname`;
    expect(rows).toEqual([
      { relname: 'refresh_tokens', reloptions: ['fillfactor=70'] },
      { relname: 'sessions', reloptions: ['fillfactor=70'] },
    ]);
  });

  it('updates the session and spends the token without writing any index entry (HOT): no refreshed column is indexed', async () => {
    const [sessionsBefore, tokensBefore] = [await updates('sessions'), await updates('refresh_tokens')];
    await openAndRefresh(3);
    const [sessionsAfter, tokensAfter] = [await updates('sessions'), await updates('refresh_tokens')];
    expect(sessionsAfter.all - sessionsBefore.all).toBe(3);
    expect(sessionsAfter.hot - sessionsBefore.hot).toBe(3);
    expect(tokensAfter.all - tokensBefore.all).toBe(3);
    expect(tokensAfter.hot - tokensBefore.hot).toBe(3);
  });

  it('prepares the call once per connection and executes it as often as needed', async () => {
    const pool = pgPoolOf(db);
    expect(pool).toBeDefined();
    const before = await executions('auth.refresh_session/1');
    await openAndRefresh(2);
    expect((await executions('auth.refresh_session/1')) - before).toBe(2);
  });

  it("makes a sign-in's user lookup and backoff reservation one prepared statement, then the session opening", async () => {
    const settings = {
      policy: backoffPolicy(testApp.config),
      passwordHashParams: CHEAP_HASH,
      dummyPasswordHash: unmatchablePasswordHash(CHEAP_HASH),
    };
    for (let i = 0; i < 2; i += 1) {
      const check = await checkCredentialsWithBackoff(db, user.username, user.password, settings, new Date(), {
        clearOnSuccess: false,
      });
      expect(check).toMatchObject({ ok: true, user: { id: user.id }, backoffKey: `user:${user.id}` });
    }
    await openAndRefresh(0);
    await openAndRefresh(0);
    expect(await executions('auth.credential_backoff.reserve_by_identifier/1')).toBe(2);
    // Neither half on its own: one round trip, not two.
    expect(await executions('auth.user_by_identifier/1')).toBe(0);
    expect(await executions('auth.credential_backoff.reserve/1')).toBe(0);
    expect(await executions('auth.open_session/1')).toBeGreaterThanOrEqual(2);
  });
});
