import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/services/clients.js';
import { startTestApp } from '../helpers.js';

describe('POST /api/auth/token (smoke)', () => {
  let testApp: Awaited<ReturnType<typeof startTestApp>>;
  let credentials: { clientId: string; clientSecret: string };
  beforeAll(async () => {
    testApp = await startTestApp();
    const created = await createClient(testApp.db, testApp.config.CLIENT_SECRET_PEPPER, {
      name: 'Smoke',
      scopes: ['orders:read'],
    });
    credentials = { clientId: created.client.clientId, clientSecret: created.clientSecret };
  });
  afterAll(async () => {
    await testApp.close();
  });

  it('issues a token for valid credentials', async () => {
    const response = await testApp.app.inject({ method: 'POST', url: '/api/auth/token', payload: credentials });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ code: 200, status: 'success', message: 'Token generado exitosamente' });
    expect(body.data.expire_in).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    const info = await testApp.app.inject({
      method: 'GET',
      url: '/api/auth/token/info',
      headers: { authorization: `Bearer ${body.data.token}` },
    });
    expect(info.statusCode).toBe(200);
    expect(info.json().data).toMatchObject({ client_id: credentials.clientId, scopes: ['orders:read'] });
  });

  it('answers 400 and 401 exactly', async () => {
    const missing = await testApp.app.inject({ method: 'POST', url: '/api/auth/token', payload: {} });
    expect(missing.json()).toEqual({
      code: 400,
      status: 'error',
      message: 'Error en la validación de datos',
      errors: ["El campo 'clientId' es requerido", "El campo 'clientSecret' es requerido"],
    });
    const wrong = await testApp.app.inject({
      method: 'POST',
      url: '/api/auth/token',
      payload: { ...credentials, clientSecret: 'nope' },
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toEqual({ code: 401, status: 'error', message: 'Credenciales inválidas' });
  });
});
