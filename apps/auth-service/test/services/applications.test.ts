import { createPrismaClient, type PrismaClient } from '@mxp/db';
import { createTestDatabase } from '@mxp/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthAdminError,
  createApplication,
  getApplication,
  listApplications,
  type NewApplication,
} from '../../src/services/applications.js';

describe('applications', () => {
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

  it('creates an application with the default policy and audits it', async () => {
    const created = await createApplication(db, { name: '  Intranet  ' }, 'alice');
    expect(created).toEqual({
      applicationId: expect.any(String),
      name: 'Intranet',
      status: 'active',
      accessTokenTtlSeconds: 900,
      idleTimeoutSeconds: 1800,
      absoluteTimeoutSeconds: 43_200,
      rotateRefreshTokens: true,
      createdAt: expect.any(Date),
    });
    const stored = await db.application.findUniqueOrThrow({ where: { id: created.applicationId } });
    expect(stored).toMatchObject({ name: 'Intranet', accessTokenTtlSeconds: 900, rotateRefreshTokens: true });
    const audit = await db.authAdminAudit.findMany({ where: { targetId: created.applicationId } });
    expect(audit).toEqual([
      expect.objectContaining({
        action: 'application.create',
        targetType: 'application',
        actor: 'alice',
        details: {
          name: 'Intranet',
          accessTokenTtlSeconds: 900,
          idleTimeoutSeconds: 1800,
          absoluteTimeoutSeconds: 43_200,
          rotateRefreshTokens: true,
        },
      }),
    ]);
  });

  it('stores an explicit policy, rotation off, and records a missing actor as null', async () => {
    const created = await createApplication(db, {
      name: 'Kiosk',
      accessTokenTtlSeconds: 60,
      idleTimeoutSeconds: 60,
      absoluteTimeoutSeconds: 300,
      rotateRefreshTokens: false,
    });
    expect(created).toMatchObject({
      accessTokenTtlSeconds: 60,
      idleTimeoutSeconds: 60,
      absoluteTimeoutSeconds: 300,
      rotateRefreshTokens: false,
    });
    const audit = await db.authAdminAudit.findFirstOrThrow({ where: { targetId: created.applicationId } });
    expect(audit.actor).toBeNull();
  });

  it.each<[string, NewApplication]>([
    ['upper limits', { name: 'x'.repeat(200), accessTokenTtlSeconds: 86_400, absoluteTimeoutSeconds: 2_592_000 }],
    ['idle at its maximum', { name: 'Long', idleTimeoutSeconds: 604_800, absoluteTimeoutSeconds: 2_592_000 }],
    [
      'idle and access ttl equal to the absolute timeout',
      { name: 'Eq', accessTokenTtlSeconds: 3600, idleTimeoutSeconds: 3600, absoluteTimeoutSeconds: 3600 },
    ],
  ])('accepts %s', async (_, input) => {
    await expect(createApplication(db, input)).resolves.toMatchObject({ status: 'active' });
  });

  it.each<[NewApplication, string]>([
    [{ name: '' }, 'name must have 1 to 200 characters'],
    [{ name: '   ' }, 'name must have 1 to 200 characters'],
    [{ name: 'x'.repeat(201) }, 'name must have 1 to 200 characters'],
    [{ name: 'a', accessTokenTtlSeconds: 59 }, 'access token ttl must be a whole number of seconds from 60 to 86400'],
    [
      { name: 'a', accessTokenTtlSeconds: 86_401 },
      'access token ttl must be a whole number of seconds from 60 to 86400',
    ],
    [{ name: 'a', accessTokenTtlSeconds: 90.5 }, 'access token ttl must be a whole number of seconds'],
    [{ name: 'a', idleTimeoutSeconds: 59 }, 'idle timeout must be a whole number of seconds from 60 to 604800'],
    [{ name: 'a', idleTimeoutSeconds: 604_801 }, 'idle timeout must be a whole number of seconds from 60 to 604800'],
    [
      { name: 'a', absoluteTimeoutSeconds: 299 },
      'absolute timeout must be a whole number of seconds from 300 to 2592000',
    ],
    [{ name: 'a', absoluteTimeoutSeconds: 2_592_001 }, 'absolute timeout must be a whole number of seconds from 300'],
    [{ name: 'a', absoluteTimeoutSeconds: Number.NaN }, 'absolute timeout must be a whole number of seconds'],
    [
      { name: 'a', idleTimeoutSeconds: 3600, absoluteTimeoutSeconds: 1800 },
      'idle timeout (3600 s) must not exceed the absolute timeout (1800 s)',
    ],
    // The default idle timeout (1800 s) exceeds this absolute timeout.
    [{ name: 'a', absoluteTimeoutSeconds: 600 }, 'idle timeout (1800 s) must not exceed the absolute timeout (600 s)'],
    [
      { name: 'a', accessTokenTtlSeconds: 3600, idleTimeoutSeconds: 600, absoluteTimeoutSeconds: 1800 },
      'access token ttl (3600 s) must not exceed the absolute timeout (1800 s)',
    ],
  ])('refuses %j as INVALID_INPUT, writing nothing', async (input, message) => {
    const [applications, audits] = [await db.application.count(), await db.authAdminAudit.count()];
    const error = await createApplication(db, input, 'alice').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AuthAdminError);
    expect(error).toMatchObject({ code: 'INVALID_INPUT' });
    expect((error as Error).message).toContain(message);
    expect(await db.application.count()).toBe(applications);
    expect(await db.authAdminAudit.count()).toBe(audits);
  });

  it('lists applications newest first and gets one by id', async () => {
    const first = await createApplication(db, { name: 'First' });
    const second = await createApplication(db, { name: 'Second' });
    const list = await listApplications(db);
    const ids = list.map((application) => application.applicationId);
    expect(ids.indexOf(second.applicationId)).toBeLessThan(ids.indexOf(first.applicationId));
    expect(ids[0]).toBe(second.applicationId);
    expect(await getApplication(db, first.applicationId)).toEqual(first);
  });

  it('reports an unknown application as APPLICATION_NOT_FOUND', async () => {
    await expect(getApplication(db, 'nope')).rejects.toMatchObject({
      code: 'APPLICATION_NOT_FOUND',
      message: 'no application with id nope',
    });
  });
});
