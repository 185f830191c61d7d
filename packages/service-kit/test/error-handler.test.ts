import Fastify, { type FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorHandler } from '../src/error-handler.js';
import { HttpError } from '../src/http-error.js';

describe('errorHandler', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = Fastify({ logger: false, bodyLimit: 1024 });
    await app.register(errorHandler);
    app.post(
      '/things',
      {
        schema: {
          body: Type.Object({
            name: Type.String({ minLength: 1 }),
            count: Type.Integer({ minimum: 1 }),
            tags: Type.Optional(Type.Array(Type.String(), { maxItems: 3 })),
          }),
        },
      },
      async () => ({ ok: true }),
    );
    app.get(
      '/things',
      { schema: { querystring: Type.Object({ limit: Type.Integer({ maximum: 200 }) }) } },
      async (request) => request.query,
    );
    app.get('/denied', async () => {
      throw new HttpError('INVALID_CREDENTIALS', { headers: { 'www-authenticate': 'Bearer' } });
    });
    app.get('/boom', async () => {
      throw new Error('secret internals: password=hunter2');
    });
    app.get('/db-down', async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    });
    await app.ready();
  });
  afterAll(() => app.close());

  it('lists every invalid field of a body in Spanish, in schema order', async () => {
    const response = await app.inject({ method: 'POST', url: '/things', payload: { count: 0, tags: [1] } });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      code: 400,
      status: 'error',
      message: 'Error en la validación de datos',
      errors: [
        "El campo 'name' es requerido",
        "El campo 'count' debe ser >= 1",
        "El campo 'tags.0' debe ser de tipo texto",
      ],
    });
  });

  it('never coerces body types but does coerce query strings', async () => {
    const body = await app.inject({ method: 'POST', url: '/things', payload: { name: 'x', count: '2' } });
    expect(body.json().errors).toEqual(["El campo 'count' debe ser de tipo entero"]);
    const query = await app.inject({ method: 'GET', url: '/things?limit=50' });
    expect(query.json()).toEqual({ limit: 50 });
  });

  it('reports an empty string under minLength 1 as a missing field', async () => {
    const response = await app.inject({ method: 'POST', url: '/things', payload: { name: '', count: 1 } });
    expect(response.json().errors).toEqual(["El campo 'name' es requerido"]);
  });

  it('answers a body that is not an object', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/things',
      payload: '[1,2]',
      headers: { 'content-type': 'application/json' },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors).toEqual(['El cuerpo de la solicitud debe ser un objeto JSON']);
  });

  it('answers malformed JSON, an empty JSON body, a foreign content type and an oversized body in the envelope', async () => {
    const json = { 'content-type': 'application/json' };
    const malformed = await app.inject({ method: 'POST', url: '/things', payload: '{"name":', headers: json });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toEqual({
      code: 400,
      status: 'error',
      message: 'El cuerpo de la solicitud no es JSON válido',
    });

    const empty = await app.inject({ method: 'POST', url: '/things', payload: '', headers: json });
    expect(empty.statusCode).toBe(400);
    expect(empty.json().errors).toEqual(["El campo 'name' es requerido", "El campo 'count' es requerido"]);

    const absent = await app.inject({ method: 'POST', url: '/things' });
    expect(absent.statusCode).toBe(400);
    expect(absent.json().errors).toEqual(["El campo 'name' es requerido", "El campo 'count' es requerido"]);

    const xml = await app.inject({
      method: 'POST',
      url: '/things',
      payload: '<a/>',
      headers: { 'content-type': 'application/xml' },
    });
    expect(xml.statusCode).toBe(415);
    expect(xml.json()).toEqual({
      code: 415,
      status: 'error',
      message: 'Tipo de contenido no soportado: use application/json',
    });

    const large = await app.inject({ method: 'POST', url: '/things', payload: { name: 'x'.repeat(2048), count: 1 } });
    expect(large.statusCode).toBe(413);
    expect(large.json().code).toBe(413);
  });

  it('sends a registry error with its status, message and headers', async () => {
    const response = await app.inject({ method: 'GET', url: '/denied' });
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer');
    expect(response.json()).toEqual({ code: 401, status: 'error', message: 'Credenciales inválidas' });
  });

  it('hides internals of an unexpected error behind a generic 500', async () => {
    const response = await app.inject({ method: 'GET', url: '/boom' });
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('hunter2');
    expect(response.json()).toEqual({ code: 500, status: 'error', message: 'Error interno del servidor' });
  });

  it('answers 503 with Retry-After when the database is unreachable', async () => {
    const response = await app.inject({ method: 'GET', url: '/db-down' });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(response.json()).toEqual({ code: 503, status: 'error', message: 'Servicio no disponible' });
  });

  it('answers unknown routes with 404 in the envelope', async () => {
    const response = await app.inject({ method: 'DELETE', url: '/nowhere' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ code: 404, status: 'error', message: 'Recurso no encontrado' });
  });
});

describe('route schema checks', () => {
  // A description must be text: only the meta-schema says so (Ajv checks each validation keyword's value itself, with
  // or without it: `minLength: 'one'` fails both compilers).
  const malformed = { type: 'object', properties: { name: { type: 'string', description: 5 } } };

  async function appWith(checkSchemas: boolean | undefined): Promise<FastifyInstance> {
    const app = Fastify({ logger: false });
    await app.register(errorHandler, checkSchemas === undefined ? {} : { checkSchemas });
    app.post('/things', { schema: { body: malformed } }, async () => ({ ok: true }));
    return app;
  }

  it('a malformed route schema fails the app by default, as in every test run', async () => {
    const app = await appWith(undefined);
    await expect(app.ready()).rejects.toThrow(/description/);
    await app.close();
  });

  it('production (checkSchemas: false) compiles schemas without the meta-schema check, validating bodies the same', async () => {
    const app = await appWith(false);
    await app.ready();
    const response = await app.inject({ method: 'POST', url: '/things', payload: { name: 1 } });
    expect(response.json().errors).toEqual(["El campo 'name' debe ser de tipo texto"]);
    await app.close();
  });
});
