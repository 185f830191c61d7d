import { SIGNING_ALGORITHMS } from '../algorithms.js';
import { JwtCoreError } from '../errors.js';
import type { VerifyJwtOptions } from '../verify-jwt.js';

function argumentError(message: string): JwtCoreError {
  return new JwtCoreError('ERR_ARGUMENT_INVALID', message);
}

/** A string with at least one character. */
export function nonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/**
 * Throws `ERR_ARGUMENT_INVALID` unless the options say what to trust. Shared so that the Fastify plugin refuses bad
 * options when it is registered rather than on the first request.
 */
export function checkVerifyOptions(options: VerifyJwtOptions): void {
  if (typeof options !== 'object' || options === null) throw argumentError('options are required');
  const { algorithms, issuer, audience, typ, subject, clockToleranceSeconds, currentDate, requiredClaims } = options;
  if (!Array.isArray(algorithms) || algorithms.length === 0) {
    throw argumentError('algorithms must be a non-empty allow-list');
  }
  for (const alg of algorithms) {
    if (!(SIGNING_ALGORITHMS as readonly string[]).includes(alg)) {
      throw argumentError(`algorithms: "${String(alg)}" is not one of ${SIGNING_ALGORITHMS.join(', ')}`);
    }
  }
  if (!nonEmptyString(issuer)) throw argumentError('issuer must be a non-empty string');
  const audiences = typeof audience === 'string' ? [audience] : audience;
  if (!Array.isArray(audiences) || audiences.length === 0 || !audiences.every(nonEmptyString)) {
    throw argumentError('audience must be a non-empty string or a non-empty array of them');
  }
  if (!nonEmptyString(typ)) throw argumentError('typ must be a non-empty string');
  if (subject !== undefined && !nonEmptyString(subject)) throw argumentError('subject must be a non-empty string');
  if (
    clockToleranceSeconds !== undefined &&
    (typeof clockToleranceSeconds !== 'number' || !Number.isFinite(clockToleranceSeconds) || clockToleranceSeconds < 0)
  ) {
    throw argumentError('clockToleranceSeconds must be a finite number >= 0');
  }
  if (currentDate !== undefined && (!(currentDate instanceof Date) || Number.isNaN(currentDate.getTime()))) {
    throw argumentError('currentDate must be a valid Date');
  }
  if (requiredClaims !== undefined && (!Array.isArray(requiredClaims) || !requiredClaims.every(nonEmptyString))) {
    throw argumentError('requiredClaims must be an array of claim names');
  }
}
