import fp from 'fastify-plugin';
import { HttpError } from './http-error.js';

/** Deepest nesting of objects and arrays accepted in a body: more is an attack, not data. */
export const MAX_JSON_DEPTH = 32;

type Refusal = 'characters' | 'depth';

/**
 * Walks a parsed body, query or params object without recursion (so depth cannot overflow the stack) and tells why it
 * must be refused: a string or key with U+0000 or a lone surrogate (PostgreSQL `text`/`jsonb` cannot store either),
 * or nesting deeper than {@link MAX_JSON_DEPTH}.
 */
function refusalOf(root: unknown): Refusal | undefined {
  const pending: Array<[unknown, number]> = [[root, 0]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [value, depth] = next;
    if (typeof value === 'string') {
      if (!storable(value)) return 'characters';
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) return 'depth';
    for (const [key, inner] of Object.entries(value)) {
      if (!storable(key)) return 'characters';
      pending.push([inner, depth + 1]);
    }
  }
  return undefined;
}

function storable(text: string): boolean {
  return !text.includes('\u0000') && text.isWellFormed();
}

const MESSAGES: Record<Refusal, string> = {
  characters: 'La solicitud contiene caracteres no permitidos (U+0000 o sustitutos UTF-16 sueltos)',
  depth: `El cuerpo de la solicitud está anidado a más de ${MAX_JSON_DEPTH} niveles`,
};

/**
 * Refusals every request gets before validation: JSON only (Fastify's built-in text/plain parser would turn a JSON
 * object sent as text into a string), no characters PostgreSQL cannot store, no absurd nesting.
 */
export const requestGuards = fp(
  async (app) => {
    app.removeContentTypeParser('text/plain');
    // A callback hook: every request runs it, and an async one costs a promise more.
    app.addHook('preValidation', (request, _reply, done) => {
      const refusal = refusalOf(request.body) ?? refusalOf(request.query) ?? refusalOf(request.params);
      done(refusal ? new HttpError('VALIDATION_FAILED', { errors: [MESSAGES[refusal]] }) : undefined);
    });
  },
  { name: 'mxp-request-guards', fastify: '5.x' },
);
