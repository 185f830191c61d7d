// Administration of the applications users sign in to, and what every administrative change of the SSO shares: the
// error an operator sees and the `auth.admin_audit` row written in the same transaction as the change.
import type { Application, Prisma, PrismaClient } from '@mxp/db';

/** Stable reasons an administrative change is refused (the admin CLI prints them with `--json`). */
export type AuthAdminErrorCode =
  | 'INVALID_INPUT'
  | 'APPLICATION_NOT_FOUND'
  | 'USER_NOT_FOUND'
  | 'SESSION_NOT_FOUND'
  | 'USERNAME_TAKEN'
  | 'EMAIL_TAKEN';

/** A refused administrative change, with a message fit for the operator. */
export class AuthAdminError extends Error {
  constructor(
    readonly code: AuthAdminErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AuthAdminError';
  }
}

export type AdminAuditTarget = 'application' | 'user' | 'session';

/** Records an administrative change; `details` says what changed and never holds a password, hash or token. */
export async function recordAdminAudit(
  tx: Prisma.TransactionClient,
  entry: {
    action: string;
    targetType: AdminAuditTarget;
    targetId: string;
    actor: string | undefined;
    details?: Prisma.InputJsonObject;
  },
): Promise<void> {
  await tx.authAdminAudit.create({
    data: {
      action: entry.action,
      targetType: entry.targetType,
      targetId: entry.targetId,
      actor: entry.actor ?? null,
      details: entry.details,
    },
  });
}

/** What administrators see of an application. */
export interface ApplicationView {
  applicationId: string;
  name: string;
  status: 'active' | 'disabled';
  accessTokenTtlSeconds: number;
  idleTimeoutSeconds: number;
  absoluteTimeoutSeconds: number;
  rotateRefreshTokens: boolean;
  createdAt: Date;
}

export interface NewApplication {
  name: string;
  accessTokenTtlSeconds?: number;
  idleTimeoutSeconds?: number;
  absoluteTimeoutSeconds?: number;
  rotateRefreshTokens?: boolean;
}

/** Limits and defaults of an application's session policy, in seconds. */
export const APPLICATION_LIMITS = {
  nameMaxLength: 200,
  accessTokenTtl: { min: 60, max: 86_400, default: 900 },
  idleTimeout: { min: 60, max: 604_800, default: 1_800 },
  absoluteTimeout: { min: 300, max: 2_592_000, default: 43_200 },
} as const;

export function toApplicationView(application: Application): ApplicationView {
  return {
    applicationId: application.id,
    name: application.name,
    status: application.status,
    accessTokenTtlSeconds: application.accessTokenTtlSeconds,
    idleTimeoutSeconds: application.idleTimeoutSeconds,
    absoluteTimeoutSeconds: application.absoluteTimeoutSeconds,
    rotateRefreshTokens: application.rotateRefreshTokens,
    createdAt: application.createdAt,
  };
}

function seconds(label: string, value: number | undefined, range: { min: number; max: number; default: number }) {
  const resolved = value ?? range.default;
  if (!Number.isInteger(resolved) || resolved < range.min || resolved > range.max) {
    throw new AuthAdminError(
      'INVALID_INPUT',
      `${label} must be a whole number of seconds from ${range.min} to ${range.max}`,
    );
  }
  return resolved;
}

function validateNewApplication(input: NewApplication): Required<NewApplication> {
  const name = input.name.trim();
  if (name.length === 0 || name.length > APPLICATION_LIMITS.nameMaxLength) {
    throw new AuthAdminError('INVALID_INPUT', `name must have 1 to ${APPLICATION_LIMITS.nameMaxLength} characters`);
  }
  const accessTokenTtlSeconds = seconds(
    'access token ttl',
    input.accessTokenTtlSeconds,
    APPLICATION_LIMITS.accessTokenTtl,
  );
  const idleTimeoutSeconds = seconds('idle timeout', input.idleTimeoutSeconds, APPLICATION_LIMITS.idleTimeout);
  const absoluteTimeoutSeconds = seconds(
    'absolute timeout',
    input.absoluteTimeoutSeconds,
    APPLICATION_LIMITS.absoluteTimeout,
  );
  if (idleTimeoutSeconds > absoluteTimeoutSeconds) {
    throw new AuthAdminError(
      'INVALID_INPUT',
      `idle timeout (${idleTimeoutSeconds} s) must not exceed the absolute timeout (${absoluteTimeoutSeconds} s)`,
    );
  }
  if (accessTokenTtlSeconds > absoluteTimeoutSeconds) {
    throw new AuthAdminError(
      'INVALID_INPUT',
      `access token ttl (${accessTokenTtlSeconds} s) must not exceed the absolute timeout (${absoluteTimeoutSeconds} s)`,
    );
  }
  return {
    name,
    accessTokenTtlSeconds,
    idleTimeoutSeconds,
    absoluteTimeoutSeconds,
    rotateRefreshTokens: input.rotateRefreshTokens ?? true,
  };
}

/** Creates an application with its session policy (defaults: 900 s tokens, 30 min idle, 12 h absolute, rotation). */
export async function createApplication(
  db: PrismaClient,
  input: NewApplication,
  actor?: string,
): Promise<ApplicationView> {
  const settings = validateNewApplication(input);
  const application = await db.$transaction(async (tx) => {
    const created = await tx.application.create({ data: settings });
    await recordAdminAudit(tx, {
      action: 'application.create',
      targetType: 'application',
      targetId: created.id,
      actor,
      details: { ...settings },
    });
    return created;
  });
  return toApplicationView(application);
}

/** Every application, newest first. */
export async function listApplications(db: PrismaClient): Promise<ApplicationView[]> {
  const applications = await db.application.findMany({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
  return applications.map(toApplicationView);
}

/** One application, or an APPLICATION_NOT_FOUND error. */
export async function getApplication(db: PrismaClient, applicationId: string): Promise<ApplicationView> {
  const application = await db.application.findUnique({ where: { id: applicationId } });
  if (!application) {
    throw new AuthAdminError('APPLICATION_NOT_FOUND', `no application with id ${applicationId}`);
  }
  return toApplicationView(application);
}
