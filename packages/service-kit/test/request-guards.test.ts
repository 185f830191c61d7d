import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorHandler } from '../src/error-handler.js';
import { requestGuards } from '../src/request-guards.js';

describe('requestGuards', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = Fastify({ logger: false });
    await app.register(errorHandler);
    await app.register(requestGuards);
    app.post('/echo/:id', async (request) => ({ body: request.body }));
    await app.ready();
  });
  afterAll(() => app.close());

  it('refuses U+0000 in a body string, a body key, the query and the path', async () => {
    const refused = [
      { url: '/echo/1', payload: { name: 'a\u0000b' } },
      { url: '/echo/1', payload: { nested: { 'k\u0000': 1 } } },
      { url: '/echo/1?q=%00', payload: {} },
      { url: '/echo/a%00b', payload: {} },
    ];
    for (const request of refused) {
      const response = await app.inject({ method: 'POST', ...request });
      expect(response.statusCode, request.url).toBe(400);
      expect(response.json().errors).toEqual([
        'La solicitud contiene caracteres no permitidos (U+0000 o sustitutos UTF-16 sueltos)',
      ]);
    }
  });

  it('refuses lone surrogates and nesting deeper than 32 levels, without recursing', async () => {
    const loneSurrogate = await app.inject({
      method: 'POST',
      url: '/echo/1',
      payload: '{"browser":"x\\ud800"}',
      headers: { 'content-type': 'application/json' },
    });
    expect(loneSurrogate.statusCode).toBe(400);
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const nested = await app.inject({
      method: 'POST',
      url: '/echo/1',
      payload: `{"a":${deep}}`,
      headers: { 'content-type': 'application/json' },
    });
    expect(nested.statusCode).toBe(400);
    expect(nested.json().errors).toEqual(['El cuerpo de la solicitud está anidado a más de 32 niveles']);
    const deepNul = `${'{"a":'.repeat(40)}"x\\u0000"${'}'.repeat(40)}`;
    const nul = await app.inject({
      method: 'POST',
      url: '/echo/1',
      payload: deepNul,
      headers: { 'content-type': 'application/json' },
    });
    expect(nul.statusCode).toBe(400);
  });

  it('lets ordinary Unicode through', async () => {
    const response = await app.inject({ method: 'POST', url: '/echo/1', payload: { name: 'ñandú 😀' } });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ body: { name: 'ñandú 😀' } });
  });

  it('accepts JSON only: text/plain is an unsupported media type', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/echo/1',
      payload: '{"name":"x"}',
      headers: { 'content-type': 'text/plain' },
    });
    expect(response.statusCode).toBe(415);
  });
});
