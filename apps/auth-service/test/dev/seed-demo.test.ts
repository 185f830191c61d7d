import { createPrismaClient, type PrismaClient } from '@mxp/db';
import { createTestDatabase } from '@mxp/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoAccount } from '../../src/dev/seed-demo.js';
import { verifyPassword } from '../../src/services/passwords.js';

const cheap = { memoryKib: 1024, iterations: 1, parallelism: 1 };

describe('ensureDemoAccount', () => {
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

  it('creates an active application and a user whose hash matches the printed password, once', async () => {
    const demo = await ensureDemoAccount(db, cheap);
    const application = await db.application.findUniqueOrThrow({ where: { id: demo.applicationId } });
    expect(application.status).toBe('active');
    const user = await db.user.findUniqueOrThrow({ where: { username: demo.username } });
    expect(user.passwordHash).toMatch(/^\$argon2id\$/);
    expect(await verifyPassword(user.passwordHash, demo.password)).toBe(true);

    expect(await ensureDemoAccount(db, cheap, demo)).toEqual(demo);
    expect(await db.application.count()).toBe(1);
    expect(await db.user.count()).toBe(1);
  });
});
