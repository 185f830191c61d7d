import type { ErrorCode } from '@mxp/contracts';
import { isDatabaseUnavailableError } from '@mxp/db';
import type { ErrorObject } from 'ajv';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { errorEnvelope, HttpError } from './http-error.js';
import {
  describeMissingBody,
  describeValidationErrors,
  uncheckedValidatorCompiler,
  validatorCompiler,
} from './validation.js';

/** Fastify's own client-error codes and the registry code each one is answered with. */
const FASTIFY_CLIENT_ERRORS: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BAD_REQUEST',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_TYPE: 'BAD_REQUEST',
};

const STATUS_TO_CODE: Record<number, ErrorCode> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
};

/** Decides the registry code of any error thrown while serving a request. */
function classify(error: FastifyError, request: FastifyRequest): { errorCode: ErrorCode; errors?: string[] } {
  if (error instanceof HttpError) return { errorCode: error.errorCode, errors: error.options.errors };
  const schema = request.routeOptions.schema;
  if (error.validation) {
    const part = error.validationContext as 'body' | 'querystring' | 'params' | 'headers' | undefined;
    const partSchema = part ? schema?.[part] : undefined;
    if (part === 'body' && request.body === undefined) {
      return { errorCode: 'VALIDATION_FAILED', errors: describeMissingBody(partSchema) };
    }
    return {
      errorCode: 'VALIDATION_FAILED',
      errors: describeValidationErrors(error.validation as ErrorObject[], partSchema),
    };
  }
  // An empty JSON body is a body with every field missing, answered like one.
  if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' && schema?.body) {
    return { errorCode: 'VALIDATION_FAILED', errors: describeMissingBody(schema.body) };
  }
  const known = error.code ? FASTIFY_CLIENT_ERRORS[error.code] : undefined;
  if (known) return { errorCode: known };
  if (isDatabaseUnavailableError(error)) return { errorCode: 'SERVICE_UNAVAILABLE' };
  const status = error.statusCode ?? 500;
  // A dependency that is down (e.g. a JWKS that cannot be fetched) reports 503 itself.
  if (status === 503) return { errorCode: 'SERVICE_UNAVAILABLE' };
  if (status >= 400 && status < 500) return { errorCode: STATUS_TO_CODE[status] ?? 'BAD_REQUEST' };
  return { errorCode: 'INTERNAL' };
}

export interface ErrorHandlerOptions {
  /** A different status for some codes, where a service's contract asks for it (e.g. 400 for every malformed body). */
  statusOverrides?: Partial<Record<ErrorCode, number>>;
  /** Check each route schema against the JSON Schema meta-schema when it is compiled (default true; production: false). */
  checkSchemas?: boolean;
}

/**
 * The single error handler of a service (with the request validator whose errors it describes): every failure leaves in the `{code, status, message, errors?}` envelope,
 * unexpected ones as a generic 500/503 logged with the request id and never with internals in the body.
 */
export const errorHandler = fp<ErrorHandlerOptions>(
  async (app, options) => {
    const statusOverrides = options.statusOverrides ?? {};
    // Validation messages are produced from this compiler's errors, so both are installed together.
    app.setValidatorCompiler(options.checkSchemas === false ? uncheckedValidatorCompiler : validatorCompiler);

    app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const { errorCode, errors } = classify(error, request);
      const envelope = errorEnvelope(errorCode, errors, statusOverrides[errorCode]);
      const body =
        error instanceof HttpError && error.options.extra ? { ...error.options.extra, ...envelope } : envelope;
      if (body.code >= 500) {
        const level = errorCode === 'SERVICE_UNAVAILABLE' ? 'warn' : 'error';
        request.log[level]({ err: error }, 'request failed');
      } else {
        request.log.info({ errorCode, reason: error.code ?? error.message }, 'request refused');
      }
      if (error instanceof HttpError && error.options.headers) reply.headers(error.options.headers);
      if (errorCode === 'SERVICE_UNAVAILABLE') reply.header('retry-after', '5');
      return reply.code(body.code).send(body);
    });

    app.setNotFoundHandler((_request, reply) => reply.code(404).send(errorEnvelope('NOT_FOUND')));
  },
  { name: 'mxp-error-handler', fastify: '5.x' },
);
