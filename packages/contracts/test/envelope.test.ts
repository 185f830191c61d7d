import { Type } from 'typebox';
import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import { ErrorCatalog, ErrorEnvelope, HealthResponse, SuccessEnvelope } from '../src/index.js';

describe('ErrorEnvelope', () => {
  it('accepts the 400 and 401 bodies of the otherclient specification', () => {
    expect(
      Value.Check(ErrorEnvelope, {
        code: 400,
        status: 'error',
        message: 'Error en la validación de datos',
        errors: ["El campo 'clientId' es requerido", "El campo 'clientSecret' es requerido"],
      }),
    ).toBe(true);
    expect(Value.Check(ErrorEnvelope, { code: 401, status: 'error', message: 'Credenciales inválidas' })).toBe(true);
  });

  it('rejects a success status, a 2xx code and unknown fields', () => {
    expect(Value.Check(ErrorEnvelope, { code: 401, status: 'success', message: 'x' })).toBe(false);
    expect(Value.Check(ErrorEnvelope, { code: 200, status: 'error', message: 'x' })).toBe(false);
    expect(Value.Check(ErrorEnvelope, { code: 401, status: 'error', message: 'x', stack: 'at ...' })).toBe(false);
  });
});

describe('SuccessEnvelope', () => {
  it('wraps the data schema', () => {
    const schema = SuccessEnvelope(Type.Object({ token: Type.String() }));
    expect(Value.Check(schema, { code: 200, status: 'success', message: 'ok', data: { token: 't' } })).toBe(true);
    expect(Value.Check(schema, { code: 200, status: 'success', message: 'ok', data: {} })).toBe(false);
  });
});

describe('ErrorCatalog', () => {
  it('keeps the messages the specification fixes', () => {
    expect(ErrorCatalog.VALIDATION_FAILED).toEqual({ status: 400, message: 'Error en la validación de datos' });
    expect(ErrorCatalog.INVALID_CREDENTIALS).toEqual({ status: 401, message: 'Credenciales inválidas' });
  });

  it('gives every code an error status', () => {
    for (const entry of Object.values(ErrorCatalog)) {
      expect(entry.status).toBeGreaterThanOrEqual(400);
      expect(entry.status).toBeLessThan(600);
    }
  });
});

describe('HealthResponse', () => {
  it('is exactly {"status":"ok"}', () => {
    expect(Value.Check(HealthResponse, { status: 'ok' })).toBe(true);
    expect(Value.Check(HealthResponse, { status: 'degraded' })).toBe(false);
  });
});
