import { ErrorEnvelope, HealthResponse } from '@mxp/contracts';
import type { FastifyPluginAsync } from 'fastify';
import { pingDatabase } from './db-plugin.js';
import { HttpError } from './http-error.js';

/** `GET <prefix>/health`: `{"status":"ok"}` when the database answers, 503 in the envelope when it does not. */
export const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get(
    '/health',
    {
      // Probes from the orchestrator must never be throttled.
      config: { rateLimit: false },
      schema: {
        summary: 'Readiness and liveness probe',
        response: { 200: HealthResponse, 503: ErrorEnvelope },
      },
    },
    async () => {
      try {
        await pingDatabase(app.db);
      } catch (cause) {
        throw new HttpError('SERVICE_UNAVAILABLE', { cause });
      }
      return { status: 'ok' as const };
    },
  );
};
