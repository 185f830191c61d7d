import { randomBytes } from 'node:crypto';
import type { PrismaClient } from '@mxp/db';
import { hashPassword, type PasswordHashParams, verifyPassword } from '../services/passwords.js';

export interface DemoAccount {
  applicationId: string;
  username: string;
  password: string;
}

const DEMO_USERNAME = 'demo';

/**
 * Development only: makes sure the demo application and the demo user exist, the user's password being
 * `known.password` (the one printed last time) or a new random one.
 */
export async function ensureDemoAccount(
  db: PrismaClient,
  params: PasswordHashParams,
  known?: DemoAccount,
): Promise<DemoAccount> {
  const application = known
    ? await db.application.upsert({
        where: { id: known.applicationId },
        create: { id: known.applicationId, name: 'Demo application' },
        update: { status: 'active' },
      })
    : await db.application.create({ data: { name: 'Demo application' } });

  const password = known?.password ?? randomBytes(12).toString('base64url');
  const user = await db.user.findUnique({ where: { username: DEMO_USERNAME } });
  const upToDate = user?.status === 'active' && (await verifyPassword(user.passwordHash, password));
  if (!upToDate) {
    const passwordHash = await hashPassword(password, params);
    await db.user.upsert({
      where: { username: DEMO_USERNAME },
      create: { username: DEMO_USERNAME, email: 'demo@example.com', passwordHash },
      update: { passwordHash, status: 'active', passwordChangedAt: new Date() },
    });
  }
  return { applicationId: application.id, username: DEMO_USERNAME, password };
}
