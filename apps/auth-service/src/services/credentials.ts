import type { PrismaClient, User } from '@mxp/db';
import { hashPassword, type PasswordHashParams, passwordHashNeedsUpgrade, verifyPassword } from './passwords.js';

export type CredentialsCheck =
  | { ok: true; user: User }
  | { ok: false; reason: 'unknown_user' | 'bad_password' | 'user_disabled'; user: User | null };

/** The columns of a user row that {@link userOfRow} reads. */
export const USER_COLUMNS = 'id, username, email, password_hash, status, password_changed_at, created_at, updated_at';

/** A row of `auth.users` as {@link USER_COLUMNS} selects it. */
export interface UserRow {
  id: string;
  username: string;
  email: string | null;
  password_hash: string;
  status: User['status'];
  password_changed_at: Date;
  created_at: Date;
  updated_at: Date;
}

/** The user a row selected with {@link USER_COLUMNS} holds. */
export function userOfRow(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    passwordHash: row.password_hash,
    status: row.status,
    passwordChangedAt: row.password_changed_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * Checks the password of the user a username or email named (looked up by `reserveSignInByIdentifier`; `null`:
 * none). An unknown user costs one argon2 verification against `dummyHash` (unmatchable, with the current
 * parameters), so unknown users and wrong passwords take the same time. A correct password with older hash parameters
 * is re-hashed with the current ones, unless `upgradeHash` is false (a check whose outcome is ignored, such as one
 * made while the account is locked, must have no effect, visible or timed).
 */
export async function checkPassword(
  db: PrismaClient,
  user: User | null,
  password: string,
  params: PasswordHashParams,
  dummyHash: string,
  { upgradeHash = true }: { upgradeHash?: boolean } = {},
): Promise<CredentialsCheck> {
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
