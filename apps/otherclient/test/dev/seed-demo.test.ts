import { createPrismaClient, type PrismaClient } from '@mxp/db';
import { createTestDatabase } from '@mxp/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoClient } from '../../src/dev/seed-demo.js';
import { clientSecretMatches } from '../../src/services/client-secrets.js';

const pepper = 'pepper-0123456789abcdef0123456789abcdef';

describe('ensureDemoClient', () => {
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

  it('creates an active client whose stored hash matches the printed secret, once', async () => {
    const demo = await ensureDemoClient(db, pepper);
    const stored = await db.apiClient.findUniqueOrThrow({ where: { id: demo.clientId } });
    expect(stored.status).toBe('active');
    expect(stored.secretHash).not.toContain(demo.clientSecret);
    expect(clientSecretMatches(demo.clientSecret, stored.secretHash, pepper)).toBe(true);

    expect(await ensureDemoClient(db, pepper, demo)).toEqual(demo);
    expect(await db.apiClient.count()).toBe(1);
  });

  it('restores the known credentials when the client was disabled', async () => {
    const demo = await ensureDemoClient(db, pepper);
    await db.apiClient.update({ where: { id: demo.clientId }, data: { status: 'disabled' } });
    await ensureDemoClient(db, pepper, demo);
    const stored = await db.apiClient.findUniqueOrThrow({ where: { id: demo.clientId } });
    expect(stored.status).toBe('active');
  });
});
