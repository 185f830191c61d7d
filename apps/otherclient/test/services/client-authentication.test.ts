import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticateClient } from '../../src/services/client-authentication.js';
import { getClient, rotateClientSecret, setClientStatus } from '../../src/services/clients.js';
import { newClient, startApp, type TestApp, type TestClient } from '../routes/support.js';

let testApp: TestApp;
let pepper: string;

beforeAll(async () => {
  testApp = await startApp();
  pepper = testApp.config.CLIENT_SECRET_PEPPER;
});
afterAll(async () => {
  await testApp?.close();
});

function authenticate(clientId: string, clientSecret: string, now?: Date) {
  return authenticateClient(testApp.db, pepper, clientId, clientSecret, now);
}

function rotate(client: TestClient, graceSeconds: number, now: Date) {
  return rotateClientSecret(testApp.db, pepper, client.clientId, graceSeconds, 'vitest', now);
}

describe('authenticateClient', () => {
  it('accepts the current secret and returns the stored client', async () => {
    const client = await newClient(testApp, { name: 'Current', scopes: ['a'] });
    const result = await authenticate(client.clientId, client.clientSecret);
    expect(result).toMatchObject({ ok: true, usedPreviousSecret: false });
    expect(result.ok && result.client).toMatchObject({ id: client.clientId, allowedScopes: ['a'], status: 'active' });
  });

  it('tells unknown client, wrong secret and disabled client apart (for the audit only)', async () => {
    const client = await newClient(testApp);
    const other = await newClient(testApp);
    expect(await authenticate('no-such-client', client.clientSecret)).toEqual({ ok: false, reason: 'unknown_client' });
    expect(await authenticate(client.clientId, other.clientSecret)).toEqual({ ok: false, reason: 'bad_secret' });
    expect(await authenticate(client.clientId, '')).toEqual({ ok: false, reason: 'bad_secret' });
    const lastChanged = `${client.clientSecret.slice(0, -1)}${client.clientSecret.endsWith('0') ? '1' : '0'}`;
    expect(await authenticate(client.clientId, lastChanged)).toEqual({ ok: false, reason: 'bad_secret' });
    await setClientStatus(testApp.db, client.clientId, 'disabled', 'vitest');
    expect(await authenticate(client.clientId, client.clientSecret)).toEqual({ ok: false, reason: 'disabled_client' });
    // A wrong secret stays a wrong secret for a disabled client: only the owner of the secret learns it's disabled.
    expect(await authenticate(client.clientId, other.clientSecret)).toEqual({ ok: false, reason: 'bad_secret' });
    await setClientStatus(testApp.db, client.clientId, 'active', 'vitest');
    expect(await authenticate(client.clientId, client.clientSecret)).toMatchObject({ ok: true });
  });

  it('refuses the secret under another pepper', async () => {
    const client = await newClient(testApp);
    const result = await authenticateClient(testApp.db, `${pepper}-other`, client.clientId, client.clientSecret);
    expect(result).toEqual({ ok: false, reason: 'bad_secret' });
  });

  it('treats an over-long client id as unknown without failing', async () => {
    expect(await authenticate('x'.repeat(10_000), 'secret')).toEqual({ ok: false, reason: 'unknown_client' });
  });

  it('treats a client id containing U+0000 as unknown instead of throwing a database error', async () => {
    expect(await authenticate('client\u0000id', 'secret')).toEqual({ ok: false, reason: 'unknown_client' });
  });
});

describe('authenticateClient after rotateClientSecret', () => {
  it('accepts the previous secret until the grace ends (exclusive), flagging it', async () => {
    const client = await newClient(testApp);
    const rotatedAt = new Date('2030-03-01T10:00:00.000Z');
    const { clientSecret: next, client: view } = await rotate(client, 3600, rotatedAt);
    expect(view.previousSecretExpiresAt).toEqual(new Date('2030-03-01T11:00:00.000Z'));

    const justBefore = new Date('2030-03-01T10:59:59.999Z');
    const atEnd = new Date('2030-03-01T11:00:00.000Z');
    expect(await authenticate(client.clientId, client.clientSecret, rotatedAt)).toMatchObject({
      ok: true,
      usedPreviousSecret: true,
    });
    expect(await authenticate(client.clientId, client.clientSecret, justBefore)).toMatchObject({
      ok: true,
      usedPreviousSecret: true,
    });
    expect(await authenticate(client.clientId, client.clientSecret, atEnd)).toEqual({
      ok: false,
      reason: 'bad_secret',
    });
    // The new secret works before, during and after the grace.
    for (const now of [rotatedAt, justBefore, atEnd, new Date('2031-01-01T00:00:00Z')]) {
      expect(await authenticate(client.clientId, next, now)).toMatchObject({ ok: true, usedPreviousSecret: false });
    }
  });

  it('stops the previous secret at once with a grace of 0', async () => {
    const client = await newClient(testApp);
    const now = new Date();
    const { clientSecret: next, client: view } = await rotate(client, 0, now);
    expect(view.previousSecretExpiresAt).toBeNull();
    expect(await authenticate(client.clientId, client.clientSecret, now)).toEqual({ ok: false, reason: 'bad_secret' });
    expect(await authenticate(client.clientId, next, now)).toMatchObject({ ok: true, usedPreviousSecret: false });
  });

  it('keeps only the secret just rotated out: a second rotation retires the first secret', async () => {
    const client = await newClient(testApp);
    const t0 = new Date('2030-05-01T00:00:00Z');
    const t1 = new Date('2030-05-01T00:10:00Z');
    const { clientSecret: second } = await rotate(client, 3600, t0);
    const { clientSecret: third } = await rotate({ ...client, clientSecret: second }, 3600, t1);
    expect(await authenticate(client.clientId, client.clientSecret, t1)).toEqual({ ok: false, reason: 'bad_secret' });
    expect(await authenticate(client.clientId, second, t1)).toMatchObject({ ok: true, usedPreviousSecret: true });
    expect(await authenticate(client.clientId, third, t1)).toMatchObject({ ok: true, usedPreviousSecret: false });
  });

  it('retires the previous secret when a later rotation has no grace', async () => {
    const client = await newClient(testApp);
    const t0 = new Date('2030-06-01T00:00:00Z');
    const { clientSecret: second } = await rotate(client, 3600, t0);
    const { clientSecret: third } = await rotate({ ...client, clientSecret: second }, 0, t0);
    for (const secret of [client.clientSecret, second]) {
      expect(await authenticate(client.clientId, secret, t0)).toEqual({ ok: false, reason: 'bad_secret' });
    }
    expect(await authenticate(client.clientId, third, t0)).toMatchObject({ ok: true });
  });

  it('refuses the previous secret of a disabled client as disabled', async () => {
    const client = await newClient(testApp);
    const now = new Date();
    await rotate(client, 3600, now);
    await setClientStatus(testApp.db, client.clientId, 'disabled', 'vitest');
    expect(await authenticate(client.clientId, client.clientSecret, now)).toEqual({
      ok: false,
      reason: 'disabled_client',
    });
  });

  it('never exposes a secret or a hash in the administrative view', async () => {
    const client = await newClient(testApp);
    const { clientSecret: next } = await rotate(client, 60, new Date());
    const view = JSON.stringify(await getClient(testApp.db, client.clientId));
    expect(view).not.toContain(client.clientSecret);
    expect(view).not.toContain(next);
    expect(view).not.toContain('hmac-sha256');
  });
});
