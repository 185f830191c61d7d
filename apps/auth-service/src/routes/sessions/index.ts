import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  CurrentSessionResponse,
  type DeviceInfo,
  ErrorEnvelope,
  MessageResponse,
  SessionIdParams,
  SessionListResponse,
} from '@mxp/contracts';
import { HttpError } from '@mxp/service-kit';
import { bearerChallenge, callerOf } from '../../plugins/auth.js';
import { recordLog } from '../../services/audit.js';
import {
  activeSessionWhere,
  findActiveSession,
  listActiveSessions,
  revokeSessionIds,
} from '../../services/sessions.js';
import { originOf } from '../origin.js';

const unauthorized = { 401: ErrorEnvelope, 503: ErrorEnvelope };

function deviceInfoOf(value: unknown): DeviceInfo | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as DeviceInfo) : null;
}

/** The caller's sessions: the current one, all active ones, and closing them ("cerrar sesión en dispositivos"). */
export const sessionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/session/me',
    {
      preHandler: app.requireSession,
      schema: {
        summary: 'The session of the Bearer token',
        response: { 200: CurrentSessionResponse, ...unauthorized },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      // Validation keeps only what it needs of the session; this answer shows the rest of the row.
      const session = await findActiveSession(app.db, caller.sessionId, caller.userId, new Date());
      // Ended between the check and this read (a logout elsewhere): refused as the check itself would now refuse it.
      if (!session) {
        const challenge = bearerChallenge({ refused: 'session_inactive' });
        throw new HttpError('UNAUTHORIZED', { headers: { 'www-authenticate': challenge } });
      }
      return {
        user_id: session.userId,
        session_id: session.id,
        application_id: session.applicationId,
        device_info: deviceInfoOf(session.deviceInfo),
        created_at: session.createdAt.toISOString(),
        last_seen_at: session.lastSeenAt.toISOString(),
        expires_at: session.idleExpiresAt.toISOString(),
      };
    },
  );

  app.get(
    '/sessions',
    {
      preHandler: app.requireSession,
      schema: {
        summary: "The user's active sessions, newest first",
        response: { 200: SessionListResponse, ...unauthorized },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const sessions = await listActiveSessions(app.db, caller.userId, new Date());
      return sessions.map((session) => ({
        session_id: session.id,
        created_at: session.createdAt.toISOString(),
        device_info: deviceInfoOf(session.deviceInfo),
        last_seen_at: session.lastSeenAt.toISOString(),
        ip: session.ip,
        user_agent: session.userAgent,
        application_id: session.applicationId,
        current: session.id === caller.sessionId,
      }));
    },
  );

  app.delete(
    '/sessions/:session_id',
    {
      preHandler: app.requireSession,
      schema: {
        summary: "Close one of the caller's own sessions (another user's session is a 404)",
        params: SessionIdParams,
        response: { 200: MessageResponse, 400: ErrorEnvelope, 404: ErrorEnvelope, ...unauthorized },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const now = new Date();
      const target = { id: request.params.session_id, userId: caller.userId, ...activeSessionWhere(now) };
      const closed = await app.db.$transaction(async (tx) => {
        const revoked = await revokeSessionIds(tx, target, 'closed_by_user', now);
        if (revoked.length > 0) {
          await recordLog(
            tx,
            {
              userId: caller.userId,
              action: 'session_closed',
              success: true,
              sessionId: request.params.session_id,
              applicationId: caller.applicationId,
              details: { by_session: caller.sessionId },
            },
            originOf(request),
          );
        }
        return revoked;
      });
      // Committed: this replica refuses the session at once, the others when the database notifies them.
      app.sessionCache.forgetSessions(closed);
      if (closed.length === 0) throw new HttpError('NOT_FOUND');
      return { message: 'Session revoked successfully', revoked_count: closed.length };
    },
  );

  app.delete(
    '/sessions',
    {
      preHandler: app.requireSession,
      schema: {
        summary: "Close all the caller's other sessions",
        response: { 200: MessageResponse, ...unauthorized },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const now = new Date();
      const closed = await app.db.$transaction(async (tx) => {
        const revoked = await revokeSessionIds(
          tx,
          { userId: caller.userId, id: { not: caller.sessionId }, ...activeSessionWhere(now) },
          'closed_by_user',
          now,
        );
        await recordLog(
          tx,
          {
            userId: caller.userId,
            action: 'other_sessions_closed',
            success: true,
            sessionId: caller.sessionId,
            applicationId: caller.applicationId,
            details: { count: revoked.length },
          },
          originOf(request),
        );
        return revoked;
      });
      app.sessionCache.forgetSessions(closed);
      return { message: 'Other sessions revoked successfully', revoked_count: closed.length };
    },
  );
};
