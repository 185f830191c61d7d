import type { PrismaClient } from '@mxp/db';
import type { BackoffPolicy } from '@mxp/db/backoff';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOtherclientConfig } from '../../src/config.js';
import {
  authenticateClientWithBackoff,
  backoffPolicy,
  clearClientFailures,
  clientBackoffKey,
  reserveClientAttempt,
} from '../../src/services/backoff.js';
import { newClient, startApp, type TestApp, type TestClient } from '../routes/support.js';

const POLICY: BackoffPolicy = { maxFailures: 5, baseSeconds: 30, maxSeconds: 900, resetSeconds: 900 };
const T0 = new Date('2031-05-01T10:00:00.000Z');

function at(start: Date, seconds: number): Date {
  return new Date(start.getTime() + seconds * 1000);
}

describe('brute-force backoff (otherclient.client_backoff)', () => {
  let testApp: TestApp;
  let db: PrismaClient;
  let pepper: string;
  beforeAll(async () => {
    testApp = await startApp();
    db = testApp.db;
    pepper = testApp.config.CLIENT_SECRET_PEPPER;
  });
  afterAll(async () => {
    await testApp?.close();
  });

  function row(key: string) {
    return db.clientBackoff.findUnique({ where: { key } });
  }

  function authenticate(client: TestClient, secret: string, now: Date, policy = POLICY) {
    return authenticateClientWithBackoff(db, pepper, policy, client.clientId, secret, now);
  }

  it('reads BACKOFF_* with the documented defaults', () => {
    const env = { DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/postgres', CLIENT_SECRET_PEPPER: 'p'.repeat(32) };
    expect(backoffPolicy(loadOtherclientConfig(env))).toEqual(POLICY);
    expect(
      backoffPolicy(
        loadOtherclientConfig({
          ...env,
          BACKOFF_MAX_FAILURES: '10',
          BACKOFF_BASE_SECONDS: '5',
          BACKOFF_MAX_SECONDS: '300',
          BACKOFF_RESET_SECONDS: '60',
        }),
      ),
    ).toEqual({ maxFailures: 10, baseSeconds: 5, maxSeconds: 300, resetSeconds: 60 });
    expect(() => loadOtherclientConfig({ ...env, BACKOFF_MAX_SECONDS: '0' })).toThrow(/BACKOFF_MAX_SECONDS/);
  });

  it('keys by the client id exactly as presented, bounded', () => {
    expect(clientBackoffKey('Abc-1')).toBe('Abc-1');
    expect(clientBackoffKey('x'.repeat(500))).toHaveLength(200);
  });

  it('refuses the right secret while locked, and accepts it once the lock ends; success forgets', async () => {
    const client = await newClient(testApp);
    const failures = [];
    for (let i = 0; i < 5; i++) failures.push(await authenticate(client, 'wrong', T0));
    expect(failures.map((result) => result.ok || result.reason)).toEqual(Array(5).fill('bad_secret'));
    expect(failures.map((result) => !result.ok && result.lockStarted?.seconds)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      30,
    ]);
    expect(await authenticate(client, client.clientSecret, at(T0, 29))).toEqual({ ok: false, reason: 'locked' });
    expect(await authenticate(client, client.clientSecret, at(T0, 30))).toMatchObject({ ok: true });
    expect(await row(client.clientId)).toBeNull();
    // Counted from zero again.
    for (let i = 0; i < 4; i++) await authenticate(client, 'wrong', at(T0, 31));
    expect(await authenticate(client, client.clientSecret, at(T0, 31))).toMatchObject({ ok: true });
  });

  it('throttles an unknown or disabled client id like an active one', async () => {
    const disabled = await newClient(testApp);
    await db.apiClient.update({ where: { id: disabled.clientId }, data: { status: 'disabled' } });
    const unknown = { clientId: 'no-such-client', clientSecret: 'x' };
    const reasons = async (client: TestClient) => {
      const out = [];
      for (let i = 0; i < 6; i++) {
        const result = await authenticate(client, client.clientSecret, T0);
        out.push(!result.ok && result.reason);
      }
      return out;
    };
    expect(await reasons(disabled)).toEqual([...Array(5).fill('disabled_client'), 'locked']);
    expect(await reasons(unknown)).toEqual([...Array(5).fill('unknown_client'), 'locked']);
  });

  it('counts 20 concurrent attempts exactly', async () => {
    const client = await newClient(testApp);
    const loose = { ...POLICY, maxFailures: 50 };
    await Promise.all(Array.from({ length: 20 }, () => reserveClientAttempt(db, client.clientId, loose, T0)));
    expect(await row(client.clientId)).toMatchObject({ failures: 20, lockCount: 0 });
    await clearClientFailures(db, client.clientId);

    const results = await Promise.all(Array.from({ length: 20 }, () => authenticate(client, 'wrong', T0)));
    const reasons = results.map((result) => !result.ok && result.reason);
    expect(reasons.filter((reason) => reason === 'bad_secret')).toHaveLength(5);
    expect(reasons.filter((reason) => reason === 'locked')).toHaveLength(15);
    expect(results.filter((result) => !result.ok && result.lockStarted)).toHaveLength(1);
  });

  it('grows the locks up to BACKOFF_MAX_SECONDS and forgets them after BACKOFF_RESET_SECONDS', async () => {
    const client = await newClient(testApp);
    const policy = { maxFailures: 2, baseSeconds: 10, maxSeconds: 35, resetSeconds: 100 };
    let now = T0;
    const lengths = [];
    for (let lock = 0; lock < 4; lock++) {
      await authenticate(client, 'wrong', now, policy);
      const second = await authenticate(client, 'wrong', now, policy);
      if (second.ok || !second.lockStarted) throw new Error('expected a lock');
      lengths.push(second.lockStarted.seconds);
      now = second.lockStarted.until;
    }
    expect(lengths).toEqual([10, 20, 35, 35]);
    await authenticate(client, 'wrong', at(now, 100), policy);
    const fresh = await authenticate(client, 'wrong', at(now, 100), policy);
    expect(!fresh.ok && fresh.lockStarted?.seconds).toBe(10);
  });
});
