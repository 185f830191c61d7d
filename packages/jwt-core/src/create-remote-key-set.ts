import { createRemoteJWKSet, errors } from 'jose';
import { JwtCoreError } from './errors.js';
import type { CryptoKey } from './types.js';
import type { JwksResolver } from './verify-jwt.js';

/** Caching of the remote JWKS, in milliseconds (jose's option names and defaults). */
export interface RemoteKeySetOptions {
  /** How long a fetched JWKS is used before it is fetched again; default 600 000 (10 min). */
  cacheMaxAge?: number;
  /** Minimum time between two fetches triggered by an unknown kid; default 30 000. */
  cooldownDuration?: number;
  /** Timeout of one fetch; default 5 000. */
  timeoutDuration?: number;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

/** A {@link JwksResolver} backed by a JWKS URL, with the cache controls of jose's remote set. */
export interface RemoteKeySet extends JwksResolver {
  /** Fetches the JWKS now (e.g. to warm up at start, or to fail fast on a wrong URL). */
  reload(): Promise<void>;
  /** Whether the cached JWKS is younger than `cacheMaxAge`. */
  readonly fresh: boolean;
  /** Whether an unknown kid would currently be refused without refetching. */
  readonly coolingDown: boolean;
}

// Everything except "that kid is not there" and "that alg cannot come from a JWKS" is about reaching the JWKS:
// reported as ERR_JWKS_UNAVAILABLE so a service can answer 503 rather than blame the token.
function mapRemoteError(error: unknown): JwtCoreError {
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return new JwtCoreError('ERR_JWKS_NO_MATCHING_KEY', 'no key in the remote JWKS matches the token', {
      cause: error,
    });
  }
  if (error instanceof errors.JOSENotSupported) {
    return new JwtCoreError('ERR_JOSE_ALG_NOT_ALLOWED', 'the algorithm cannot be verified with a JWKS', {
      cause: error,
    });
  }
  return new JwtCoreError('ERR_JWKS_UNAVAILABLE', 'the remote JWKS could not be fetched or used', { cause: error });
}

/**
 * Creates a key source for `verifyJwt` that fetches and caches a remote JWKS (for downstream services that only
 * verify). Errors carry this package's codes: `ERR_JWKS_UNAVAILABLE` when the JWKS cannot be fetched.
 */
export function createRemoteKeySet(url: string | URL, options: RemoteKeySetOptions = {}): RemoteKeySet {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new JwtCoreError('ERR_KEY_CONFIG_INVALID', 'JWKS url is not a valid URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new JwtCoreError('ERR_KEY_CONFIG_INVALID', 'JWKS url must be http(s)');
  }
  let remote: ReturnType<typeof createRemoteJWKSet>;
  try {
    remote = createRemoteJWKSet(parsed, options);
  } catch (error) {
    throw new JwtCoreError('ERR_KEY_CONFIG_INVALID', `invalid remote JWKS options: ${(error as Error).message}`);
  }
  const resolve = async (...args: Parameters<JwksResolver>): Promise<CryptoKey> => {
    try {
      return await remote(...args);
    } catch (error) {
      throw mapRemoteError(error);
    }
  };
  return Object.defineProperties(resolve, {
    reload: {
      value: async () => {
        try {
          await remote.reload();
        } catch (error) {
          throw mapRemoteError(error);
        }
      },
    },
    fresh: { get: () => remote.fresh, enumerable: true },
    coolingDown: { get: () => remote.coolingDown, enumerable: true },
  }) as RemoteKeySet;
}
