import { JwtCoreError } from '../errors.js';

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function malformed(message: string): JwtCoreError {
  return new JwtCoreError('ERR_JWS_INVALID', `malformed token: ${message}`);
}

/** Splits a compact JWS and parses its protected header, so the key can be chosen before any crypto runs. */
export function decodeCompactHeader(token: unknown): Record<string, unknown> {
  if (typeof token !== 'string') throw malformed('not a string');
  const parts = token.split('.');
  if (parts.length !== 3) throw malformed('a compact JWS has three dot-separated parts');
  const [header = ''] = parts;
  // An empty signature is left for later: `alg: none` tokens have one and must fail as a disallowed algorithm.
  if (header === '' || !parts.every((part) => BASE64URL.test(part))) throw malformed('parts must be base64url');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
  } catch {
    throw malformed('the header is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw malformed('the header is not a JSON object');
  }
  return parsed as Record<string, unknown>;
}
