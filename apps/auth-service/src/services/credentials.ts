import type { PrismaClient, User } from '@mxp/db';
import { normalizeIdentifier } from './identifiers.js';
import { hashPassword, type PasswordHashParams, passwordHashNeedsUpgrade, verifyPassword } from './passwords.js';

export type CredentialsCheck =
  | { ok: true; user: User }
  | { ok: false; reason: 'unknown_user' | 'bad_password' | 'user_disabled'; user: User | null };

/**
 * Checks a username-or-email and password. An unknown user costs one argon2 verification against `dummyHash` (made
 * at startup with the current parameters), so unknown users and wrong passwords take the same time. A correct
 * password with older hash parameters is re-hashed with the current ones, unless `upgradeHash` is false (a check
 * whose outcome is ignored, such as one made while the account is locked, must have no effect, visible or timed).
 */
export async function checkCredentials(
  db: PrismaClient,
  identifier: string,
  password: string,
  params: PasswordHashParams,
  dummyHash: string,
  { upgradeHash = true }: { upgradeHash?: boolean } = {},
): Promise<CredentialsCheck> {
  const normalized = normalizeIdentifier(identifier);
  const user = await db.user.findFirst({ where: { OR: [{ username: normalized }, { email: normalized }] } });
  const matches = await verifyPassword(user?.passwordHash ?? dummyHash, password);
  if (!user) return { ok: false, reason: 'unknown_user', user: null };
  if (!matches) return { ok: false, reason: 'bad_password', user };
  if (user.status !== 'active') return { ok: false, reason: 'user_disabled', user };
  if (upgradeHash && passwordHashNeedsUpgrade(user.passwordHash, params)) {
    const passwordHash = await hashPassword(password, params);
    // Only if the hash is still the one just verified: a concurrent password change wins.
    await db.user.updateMany({ where: { id: user.id, passwordHash: user.passwordHash }, data: { passwordHash } });
  }
  return { ok: true, user };
}
