import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  AttemptRequest,
  AttemptResponse,
  type DeviceInfo,
  ErrorEnvelope,
  LogListResponse,
  LogsQuery,
} from '@mxp/contracts';
import { HttpError } from '@mxp/service-kit';
import { callerOf } from '../../plugins/auth.js';
import { listLogs, recordAttempt } from '../../services/audit.js';
import { boundedDeviceInfo } from '../device-info.js';
import { originOf } from '../origin.js';

export interface AuditRoutesOptions {
  deviceInfoMaxBytes: number;
  credentialsPerMinute: number;
}

/** `POST /attempts` (an attempt reported by a client, no token) and `GET /logs` (the caller's history). */
export const auditRoutes: FastifyPluginAsyncTypebox<AuditRoutesOptions> = async (app, options) => {
  app.post(
    '/attempts',
    {
      config: { rateLimit: { max: options.credentialsPerMinute, timeWindow: 60_000 } },
      schema: {
        summary: 'Record an authentication attempt a client observed (kept apart from those the service observed)',
        body: AttemptRequest,
        response: { 201: AttemptResponse, 400: ErrorEnvelope, 429: ErrorEnvelope, 503: ErrorEnvelope },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const id = await recordAttempt(
        app.db,
        {
          identifier: body.identifier,
          applicationId: body.application_id,
          method: body.method,
          source: 'reported',
          success: body.success,
          reason: body.reason,
          deviceInfo: boundedDeviceInfo(body.device_info, options.deviceInfoMaxBytes),
        },
        originOf(request),
      );
      return reply.code(201).send({ id, recorded: true as const });
    },
  );

  app.get(
    '/logs',
    {
      preHandler: app.requireSession,
      schema: {
        summary: "The current user's recent authentication activity, newest first (next page: X-Next-Cursor)",
        querystring: LogsQuery,
        response: { 200: LogListResponse, 400: ErrorEnvelope, 401: ErrorEnvelope, 503: ErrorEnvelope },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const page = await listLogs(app.db, caller.userId, request.query.limit ?? 50, request.query.cursor);
      if (!page) throw new HttpError('VALIDATION_FAILED', { errors: ["El campo 'cursor' no es válido"] });
      if (page.nextCursor) reply.header('x-next-cursor', page.nextCursor);
      return page.entries.map((entry) => ({
        action: entry.action,
        success: entry.success,
        timestamp: entry.createdAt.toISOString(),
        application_id: entry.applicationId,
        device_info:
          entry.deviceInfo !== null && typeof entry.deviceInfo === 'object' && !Array.isArray(entry.deviceInfo)
            ? (entry.deviceInfo as DeviceInfo)
            : null,
        session_id: entry.sessionId,
        ip: entry.ip,
      }));
    },
  );
};
