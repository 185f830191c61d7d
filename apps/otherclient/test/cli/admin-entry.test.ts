// The real entry point in a child process: configuration from the environment, exit codes, stdout/stderr.
import { userInfo } from 'node:os';
import { createPrismaClient, type PrismaClient } from '@mxp/db';
import { createTestDatabase } from '@mxp/db/testing';
import { runAdminEntry } from '@mxp/testing/admin-entry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientSecretMatches } from '../../src/services/client-secrets.js';

const pepper = 'entry-pepper-0123456789abcdef0123456789';

const runEntry = (args: string[], env: NodeJS.ProcessEnv) => runAdminEntry('otherclient', args, env);

/** A minimal environment, so nothing of the developer's shell (DATABASE_URL, JWT settings, ...) leaks in. */
function baseEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', CLIENT_SECRET_PEPPER: pepper, ...extra };
}

describe('otherclient-admin entry point', () => {
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

  it('creates a client and prints exactly one JSON object', { timeout: 60_000 }, async () => {
    const { code, stdout, stderr } = await runEntry(
      ['clients', 'create', '--name', 'x', '--json'],
      baseEnv({ DATABASE_URL: database.url }),
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout.endsWith('\n')).toBe(true);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    const created = JSON.parse(stdout) as { clientId: string; clientSecret: string; name: string; status: string };
    expect(created).toMatchObject({ name: 'x', status: 'active', tokenTtlSeconds: 3600 });
    expect(created.clientSecret).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    // Hashed with the pepper from the environment; audited under the operating-system user.
    const stored = await db.apiClient.findUniqueOrThrow({ where: { id: created.clientId } });
    expect(clientSecretMatches(created.clientSecret, stored.secretHash, pepper)).toBe(true);
    const audit = await db.clientAdminAudit.findMany({ where: { clientId: created.clientId } });
    expect(audit).toEqual([expect.objectContaining({ action: 'client.create', actor: userInfo().username })]);
  });

  it('exits 1 naming DATABASE_URL when it is not set', { timeout: 60_000 }, async () => {
    const { code, stdout, stderr } = await runEntry(['clients', 'list'], baseEnv({}));
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe('otherclient-admin: Invalid configuration: DATABASE_URL is required\n');
  });
});
