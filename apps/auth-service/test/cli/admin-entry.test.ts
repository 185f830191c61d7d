// The real entry point in a child process: configuration from the environment, stdin, exit codes, stdout/stderr.
import { userInfo } from 'node:os';
import { createPrismaClient, type PrismaClient } from '@mxp/db';
import { createTestDatabase } from '@mxp/db/testing';
import { runAdminEntry } from '@mxp/testing/admin-entry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/services/passwords.js';

const runEntry = (args: string[], env: NodeJS.ProcessEnv, stdin?: string) =>
  runAdminEntry('auth-service', args, env, stdin);

/** A minimal environment, so nothing of the developer's shell (DATABASE_URL, ...) leaks in; cheap argon2. */
function baseEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'test',
    PASSWORD_HASH_MEMORY_KIB: '1024',
    PASSWORD_HASH_ITERATIONS: '1',
    PASSWORD_HASH_PARALLELISM: '1',
    ...extra,
  };
}

describe('auth-admin entry point', () => {
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

  it('creates an application and prints exactly one JSON object', { timeout: 60_000 }, async () => {
    const { code, stdout, stderr } = await runEntry(
      ['apps', 'create', '--name', 'Intranet', '--idle', '600', '--json'],
      baseEnv({ DATABASE_URL: database.url }),
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout.endsWith('\n')).toBe(true);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    const created = JSON.parse(stdout) as { applicationId: string };
    expect(created).toMatchObject({
      applicationId: expect.any(String),
      name: 'Intranet',
      accessTokenTtlSeconds: 900,
      idleTimeoutSeconds: 600,
      absoluteTimeoutSeconds: 43_200,
      rotateRefreshTokens: true,
    });
    expect(await db.application.findUnique({ where: { id: created.applicationId } })).not.toBeNull();
    // Audited under the operating-system user.
    const audit = await db.authAdminAudit.findMany({ where: { targetId: created.applicationId } });
    expect(audit).toEqual([expect.objectContaining({ action: 'application.create', actor: userInfo().username })]);
  });

  it('reads the password from a piped stdin and hashes it with the configured cost', { timeout: 60_000 }, async () => {
    const { code, stdout, stderr } = await runEntry(
      ['users', 'create', '--username', 'Piped', '--password-stdin', '--json'],
      baseEnv({ DATABASE_URL: database.url }),
      'piped pass phrase\nignored\n',
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).not.toContain('piped pass phrase');
    expect(JSON.parse(stdout)).toMatchObject({ username: 'piped', status: 'active' });
    const stored = await db.user.findUniqueOrThrow({ where: { username: 'piped' } });
    expect(stored.passwordHash).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    expect(await verifyPassword(stored.passwordHash, 'piped pass phrase')).toBe(true);
  });

  it('exits 1 naming DATABASE_URL when it is not set, and 2 on a usage error', { timeout: 60_000 }, async () => {
    const missing = await runEntry(['apps', 'list'], baseEnv({}));
    expect(missing).toEqual({
      code: 1,
      stdout: '',
      stderr: 'auth-admin: Invalid configuration: DATABASE_URL is required\n',
    });
    const usage = await runEntry(['apps', 'create', '--json'], baseEnv({}));
    expect(usage.code).toBe(2);
    expect(usage.stdout).toBe('');
    expect(JSON.parse(usage.stderr)).toEqual({
      error: { code: 'USAGE', message: 'missing --name: apps create --name NAME' },
    });
  });
});
