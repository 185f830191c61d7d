import fp from 'fastify-plugin';
import { HttpError } from './http-error.js';

/** Whether a parsed JSON value, query or params object holds U+0000 in any string, key included. */
function containsNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (depth > 32 || value === null || typeof value !== 'object') return false;
  for (const [key, inner] of Object.entries(value)) {
    if (key.includes('\u0000') || containsNul(inner, depth + 1)) return true;
  }
  return false;
}

/**
 * Refusals every request gets before validation: JSON only (Fastify's built-in text/plain parser would turn a JSON
 * object sent as text into a string), and no U+0000 anywhere, which PostgreSQL `text` and `jsonb` cannot store.
 */
export const requestGuards = fp(
  async (app) => {
    app.removeContentTypeParser('text/plain');
    app.addHook('preValidation', async (request) => {
      if (containsNul(request.body) || containsNul(request.query) || containsNul(request.params)) {
        throw new HttpError('VALIDATION_FAILED', {
          errors: ['La solicitud contiene caracteres no permitidos (U+0000)'],
        });
      }
    });
  },
  { name: 'mxp-request-guards', fastify: '5.x' },
);
