import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  ErrorEnvelope,
  LoginRequest,
  LoginResponse,
  MessageResponse,
  VerifyRequest,
  VerifyResponse,
} from '@mxp/contracts';
import type { Prisma, User } from '@mxp/db';
import { HttpError } from '@mxp/service-kit';
import type { FastifyRequest } from 'fastify';
import { callerOf } from '../../plugins/auth.js';
import { type RequestOrigin, recordAttempt, recordLog } from '../../services/audit.js';
import { type BackoffPolicy, checkCredentialsWithBackoff, type PendingLock } from '../../services/backoff.js';
import type { PasswordHashParams } from '../../services/passwords.js';
import { openSession, revokeSessions, SessionRefused } from '../../services/sessions.js';
import { issueSessionAccessToken } from '../../services/tokens.js';
import { boundedDeviceInfo } from '../device-info.js';
import { originOf } from '../origin.js';

export interface CredentialsRoutesOptions {
  issuer: string;
  passwordHashParams: PasswordHashParams;
  /** An argon2id hash of nothing in particular, verified against when the user does not exist (equal timing). */
  dummyPasswordHash: string;
  deviceInfoMaxBytes: number;
  credentialsPerMinute: number;
  /** Brute-force backoff per account (`BACKOFF_*`). */
  backoff: BackoffPolicy;
}

const errors = { 400: ErrorEnvelope, 401: ErrorEnvelope, 429: ErrorEnvelope, 503: ErrorEnvelope };

function identifierOf(body: { username?: string | undefined; email?: string | undefined }): string {
  const identifier = body.username ?? body.email;
  if (identifier === undefined) {
    throw new HttpError('VALIDATION_FAILED', { errors: ["El campo 'username' es requerido"] });
  }
  return identifier;
}

/** `POST /verify`, `POST /login` (no token) and `POST /logout` (Bearer). */
export const credentialsRoutes: FastifyPluginAsyncTypebox<CredentialsRoutesOptions> = async (app, options) => {
  const limited = { rateLimit: { max: options.credentialsPerMinute, timeWindow: 60_000 } };
  const credentialSettings = {
    policy: options.backoff,
    passwordHashParams: options.passwordHashParams,
    dummyPasswordHash: options.dummyPasswordHash,
  };

  /** A failure that started a lock: the service log, and the account's history when the identifier names one. */
  async function recordLockStarted(
    request: FastifyRequest,
    user: User | null,
    lock: PendingLock,
    origin: RequestOrigin,
    context: { applicationId?: string; deviceInfo?: Prisma.InputJsonValue | undefined } = {},
  ): Promise<void> {
    request.log.warn(
      { userId: user?.id, lockSeconds: lock.seconds, lockCount: lock.count, lockedUntil: lock.until },
      'sign-in locked after repeated failures',
    );
    if (!user) return;
    await recordLog(
      app.db,
      {
        userId: user.id,
        action: 'account_locked',
        success: false,
        applicationId: context.applicationId,
        deviceInfo: context.deviceInfo,
        details: {
          failures: options.backoff.maxFailures,
          lock_count: lock.count,
          lock_seconds: lock.seconds,
          locked_until: lock.until.toISOString(),
        },
      },
      origin,
    );
  }

  app.post(
    '/verify',
    {
      config: limited,
      schema: {
        summary: 'Check a username (or email) and password; creates no session',
        body: VerifyRequest,
        response: { 200: VerifyResponse, ...errors },
      },
    },
    async (request) => {
      const identifier = identifierOf(request.body);
      const origin = originOf(request);
      const check = await checkCredentialsWithBackoff(app.db, identifier, request.body.password, credentialSettings);
      app.authMetrics.verify(check.ok ? 'success' : check.reason);
      await recordAttempt(
        app.db,
        {
          userId: check.user?.id,
          identifier,
          method: 'credentials',
          source: 'observed',
          success: check.ok,
          reason: check.ok ? 'verify' : check.reason,
        },
        origin,
      );
      if (!check.ok) {
        if (check.lockStarted) await recordLockStarted(request, check.user, check.lockStarted, origin);
        // Locked or not, the same answer: a lock must not tell a guesser anything (not even that it exists).
        throw new HttpError('INVALID_CREDENTIALS');
      }
      return { user_id: check.user.id, status: 'success' as const, validated_by: 'credentials' as const };
    },
  );

  app.post(
    '/login',
    {
      config: limited,
      schema: {
        summary: 'Sign in to an application: a session for this device, an access token and a refresh token',
        body: LoginRequest,
        response: { 200: LoginResponse, ...errors, 403: ErrorEnvelope },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const identifier = identifierOf(body);
      const deviceInfo = boundedDeviceInfo(body.device_info, options.deviceInfoMaxBytes);
      const origin = originOf(request);
      // From the replica's cache, exact through the database's change notifications (or read, when it cannot vouch).
      const application = await app.applicationCache.find(body.application_id);
      if (application?.status !== 'active') {
        app.authMetrics.login(application ? 'application_disabled' : 'unknown_application');
        await recordAttempt(
          app.db,
          {
            identifier,
            applicationId: body.application_id,
            method: 'credentials',
            source: 'observed',
            success: false,
            reason: application ? 'application_disabled' : 'unknown_application',
            deviceInfo,
          },
          origin,
        );
        throw new HttpError(application ? 'APPLICATION_DISABLED' : 'UNKNOWN_APPLICATION');
      }

      // The account's failures are forgotten with the session (in its transaction), not on their own beforehand.
      const check = await checkCredentialsWithBackoff(
        app.db,
        identifier,
        body.password,
        credentialSettings,
        new Date(),
        {
          clearOnSuccess: false,
        },
      );
      const attempt = {
        userId: check.user?.id,
        identifier,
        applicationId: application.id,
        method: 'credentials' as const,
        source: 'observed' as const,
        success: check.ok,
        reason: check.ok ? 'login' : check.reason,
        deviceInfo,
      };
      if (!check.ok) {
        app.authMetrics.login(check.reason);
        await recordAttempt(app.db, attempt, origin);
        if (check.user) {
          // The user's own history gets the failure too, written off the response path: awaiting one more insert
          // only for existing users would tell a guesser, by timing, which usernames exist.
          void recordLog(
            app.db,
            {
              userId: check.user.id,
              action: 'login',
              success: false,
              applicationId: application.id,
              deviceInfo,
              details: { reason: check.reason },
            },
            origin,
          ).catch((error: unknown) => request.log.error({ err: error }, 'failed-login log entry not written'));
        }
        if (check.lockStarted) {
          await recordLockStarted(request, check.user, check.lockStarted, origin, {
            applicationId: application.id,
            deviceInfo,
          });
        }
        throw new HttpError('INVALID_CREDENTIALS');
      }

      // The request's log line names the user once the password is right (requestLogging); failures name nobody.
      request.subject = `user:${check.user.id}`;
      const now = new Date();
      const opened = await openSession(
        app.db,
        {
          userId: check.user.id,
          application,
          deviceInfo,
          origin,
          attempt,
          passwordCheckedAgainst: check.user.passwordChangedAt,
          backoffKey: check.backoffKey,
        },
        now,
      ).catch((error: unknown) => {
        if (error instanceof SessionRefused) {
          app.authMetrics.login('session_refused');
          throw new HttpError('INVALID_CREDENTIALS');
        }
        throw error;
      });
      const { session, refreshToken } = opened;
      const access = await issueSessionAccessToken(
        app.signingKeys,
        options.issuer,
        session,
        application.accessTokenTtlSeconds,
        now,
      );
      app.authMetrics.login('success');
      reply.headers({ 'cache-control': 'no-store', pragma: 'no-cache' });
      return {
        access_token: access.token,
        refresh_token: refreshToken,
        session_id: session.id,
        expires_at: access.expiresAt.toISOString(),
        token_type: 'Bearer' as const,
        expires_in: access.expiresIn,
      };
    },
  );

  app.post(
    '/logout',
    {
      preHandler: app.requireSession,
      schema: {
        summary: 'End the current session: its access and refresh tokens stop working at once',
        response: { 200: MessageResponse, 401: ErrorEnvelope, 503: ErrorEnvelope },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const now = new Date();
      await app.db.$transaction(async (tx) => {
        await revokeSessions(tx, { id: caller.sessionId }, 'logout', now);
        await recordLog(
          tx,
          {
            userId: caller.userId,
            action: 'logout',
            success: true,
            sessionId: caller.sessionId,
            applicationId: caller.applicationId,
          },
          originOf(request),
        );
      });
      // Committed: this replica refuses the token at once, the others when the database notifies them.
      app.sessionCache.forgetSessions([caller.sessionId]);
      app.authMetrics.logout();
      return { message: 'Session and tokens revoked successfully' };
    },
  );
};
