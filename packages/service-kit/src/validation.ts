import Ajv, { type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

/** The validators of one compiler: strict JSON types for bodies, coercion for the text-only request parts. */
function createValidators(checkSchemas: boolean) {
  const body = new Ajv.default({
    // Every problem of a body is reported at once (the spec's 400 lists each missing field); bodies are
    // size-limited, so allErrors cannot be made to run away.
    allErrors: true,
    // A JSON body has real types: `{"clientId": 123}` is an error, never the string "123".
    coerceTypes: false,
    removeAdditional: false,
    useDefaults: true,
    strict: false,
    validateSchema: checkSchemas,
  });
  const parameters = new Ajv.default({
    allErrors: true,
    // Query strings, path parameters and headers are always text: `?limit=50` must become a number.
    coerceTypes: 'array',
    removeAdditional: false,
    useDefaults: true,
    strict: false,
    validateSchema: checkSchemas,
  });
  addFormats.default(body);
  addFormats.default(parameters);
  return { body, parameters };
}

function validatorCompilerWith(checkSchemas: boolean): FastifySchemaCompiler<unknown> {
  // Made on first use: a process uses one of the two compilers.
  let validators: ReturnType<typeof createValidators> | undefined;
  return ({ schema, httpPart }) => {
    validators ??= createValidators(checkSchemas);
    return (httpPart === 'body' ? validators.body : validators.parameters).compile(schema as object);
  };
}

/**
 * Fastify validator compiler: strict JSON types for bodies, coercion for the text-only request parts. Each schema is
 * first checked against the JSON Schema meta-schema, so a malformed route schema fails the build of the app.
 */
export const validatorCompiler: FastifySchemaCompiler<unknown> = validatorCompilerWith(true);

/**
 * {@link validatorCompiler} without the meta-schema check, for production: the schemas are the ones every test run
 * checks, and compiling the meta-schema cost each Ajv instance ~30 ms of the service's start.
 */
export const uncheckedValidatorCompiler: FastifySchemaCompiler<unknown> = validatorCompilerWith(false);

/** A field name as a client wrote it: `/device_info/os` → `device_info.os`. */
function fieldOf(error: ErrorObject): string {
  const path = error.instancePath.replace(/^\//, '').replaceAll('/', '.');
  if (error.keyword === 'required') {
    const missing = String(error.params.missingProperty);
    return path ? `${path}.${missing}` : missing;
  }
  if (error.keyword === 'additionalProperties') {
    const extra = String(error.params.additionalProperty);
    return path ? `${path}.${extra}` : extra;
  }
  return path;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'texto',
  integer: 'entero',
  number: 'número',
  boolean: 'booleano',
  object: 'objeto',
  array: 'lista',
  null: 'nulo',
};

/** The parts of a JSON schema that decide how errors are described. */
interface ObjectSchemaShape {
  properties?: Record<string, { type?: unknown }>;
  required?: readonly string[];
}

/**
 * One message per offending field, in Spanish like the specification's, ordered as the fields appear in `schema`
 * (so `clientId` is reported before `clientSecret` whatever order the validator found them in). A required text
 * field that is missing, empty or not text is reported as required, as the specification does.
 */
export function describeValidationErrors(errors: readonly ErrorObject[], schema?: unknown): string[] {
  const shape = (schema ?? {}) as ObjectSchemaShape;
  const order = Object.keys(shape.properties ?? {});
  const requiredText = new Set((shape.required ?? []).filter((name) => shape.properties?.[name]?.type === 'string'));
  const messages = new Map<string, string>();
  for (const error of errors) {
    const field = fieldOf(error);
    if (messages.has(field)) continue;
    messages.set(field, requiredText.has(field) && isMissingText(error) ? required(field) : describeOne(field, error));
  }
  const rank = (field: string) => {
    const index = order.indexOf(field.split('.')[0] ?? field);
    return index === -1 ? order.length : index;
  };
  return [...messages.entries()].sort(([a], [b]) => rank(a) - rank(b)).map(([, message]) => message);
}

/** The messages for a body that is absent: each required field is missing. */
export function describeMissingBody(schema?: unknown): string[] {
  const shape = (schema ?? {}) as ObjectSchemaShape;
  return shape.required?.length ? shape.required.map(required) : ['El cuerpo de la solicitud es requerido'];
}

function required(field: string): string {
  return `El campo '${field}' es requerido`;
}

function isMissingText(error: ErrorObject): boolean {
  return (
    error.keyword === 'required' ||
    error.keyword === 'type' ||
    (error.keyword === 'minLength' && Number(error.params.limit) <= 1)
  );
}

function describeOne(field: string, error: ErrorObject): string {
  if (field === '') {
    return error.keyword === 'type'
      ? 'El cuerpo de la solicitud debe ser un objeto JSON'
      : 'El cuerpo de la solicitud no es válido';
  }
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return required(field);
    case 'type':
      return `El campo '${field}' debe ser de tipo ${TYPE_NAMES[String(params.type)] ?? String(params.type)}`;
    case 'minLength':
      return Number(params.limit) <= 1
        ? required(field)
        : `El campo '${field}' debe tener al menos ${String(params.limit)} caracteres`;
    case 'maxLength':
      return `El campo '${field}' debe tener como máximo ${String(params.limit)} caracteres`;
    case 'minimum':
    case 'exclusiveMinimum':
    case 'maximum':
    case 'exclusiveMaximum':
      return `El campo '${field}' debe ser ${String(params.comparison)} ${String(params.limit)}`;
    case 'additionalProperties':
      return `El campo '${field}' no está permitido`;
    case 'format':
    case 'pattern':
      return `El campo '${field}' no tiene un formato válido`;
    case 'enum':
      return `El campo '${field}' debe ser uno de: ${(params.allowedValues as unknown[]).join(', ')}`;
    default:
      return `El campo '${field}' no es válido`;
  }
}
