import { ErrorCatalog, type ErrorCode, type ErrorEnvelope } from '@mxp/contracts';

/** An expected failure with a code from the registry; the error handler turns it into the envelope. */
export class HttpError extends Error {
  readonly statusCode: number;

  constructor(
    readonly errorCode: ErrorCode,
    readonly options: {
      errors?: string[];
      headers?: Record<string, string>;
      /** Members added to the envelope where a route's contract asks for them (e.g. `valid: false`). */
      extra?: Record<string, unknown>;
      cause?: unknown;
    } = {},
  ) {
    super(ErrorCatalog[errorCode].message, { cause: options.cause });
    this.name = 'HttpError';
    this.statusCode = ErrorCatalog[errorCode].status;
  }
}

/** The envelope for a registry code, optionally with the per-field `errors` list and another status. */
export function errorEnvelope(errorCode: ErrorCode, errors?: string[], status?: number): ErrorEnvelope {
  const { message } = ErrorCatalog[errorCode];
  const code = status ?? ErrorCatalog[errorCode].status;
  return errors?.length ? { code, status: 'error', message, errors } : { code, status: 'error', message };
}
