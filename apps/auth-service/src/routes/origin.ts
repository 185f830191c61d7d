import type { FastifyRequest } from 'fastify';
import type { RequestOrigin } from '../services/audit.js';

/** The client address (after TRUST_PROXY) and user agent the server saw. */
export function originOf(request: FastifyRequest): RequestOrigin {
  return { ip: request.ip, userAgent: request.headers['user-agent'] };
}
