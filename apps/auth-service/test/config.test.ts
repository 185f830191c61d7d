import { ConfigError } from '@mxp/service-kit';
import { describe, expect, it } from 'vitest';
import { loadAuthServiceConfig, passwordHashParams } from '../src/config.js';

const DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

describe('loadAuthServiceConfig', () => {
  it('applies the documented defaults, OWASP argon2id minimum included', () => {
    const config = loadAuthServiceConfig({ DATABASE_URL });
    expect(config).toMatchObject({ PORT: 3002, HOST: '127.0.0.1', NODE_ENV: 'development' });
    expect(passwordHashParams(config)).toEqual({ memoryKib: 19_456, iterations: 2, parallelism: 1 });
  });

  it('names the bad variables', () => {
    expect(() => loadAuthServiceConfig({ DATABASE_URL: 'mysql://x' })).toThrow(ConfigError);
    expect(() => loadAuthServiceConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL must match pattern/);
    expect(() => loadAuthServiceConfig({ DATABASE_URL, PASSWORD_HASH_ITERATIONS: '0' })).toThrow(
      /PASSWORD_HASH_ITERATIONS must be >= 1/,
    );
    expect(() => loadAuthServiceConfig({ DATABASE_URL, PORT: '70000' })).toThrow(/PORT must be <= 65535/);
  });

  it('session cache: on by default, off with 0 entries, staleness bounded', () => {
    expect(loadAuthServiceConfig({ DATABASE_URL })).toMatchObject({
      SESSION_CACHE_MAX_ENTRIES: 50_000,
      SESSION_CACHE_MAX_AGE_MS: 300_000,
      SESSION_CACHE_MAX_STALENESS_MS: 1000,
      VERIFIED_TOKEN_CACHE_MAX_ENTRIES: 50_000,
    });
    expect(loadAuthServiceConfig({ DATABASE_URL }).DATABASE_LISTEN_URL).toBeUndefined();
    expect(
      loadAuthServiceConfig({ DATABASE_URL, SESSION_CACHE_MAX_ENTRIES: '0', VERIFIED_TOKEN_CACHE_MAX_ENTRIES: '0' }),
    ).toMatchObject({ SESSION_CACHE_MAX_ENTRIES: 0, VERIFIED_TOKEN_CACHE_MAX_ENTRIES: 0 });
    expect(() => loadAuthServiceConfig({ DATABASE_URL, SESSION_CACHE_MAX_STALENESS_MS: '100' })).toThrow(
      /SESSION_CACHE_MAX_STALENESS_MS must be >= 300/,
    );
    expect(() => loadAuthServiceConfig({ DATABASE_URL, DATABASE_LISTEN_URL: 'mysql://x' })).toThrow(
      /DATABASE_LISTEN_URL/,
    );
  });
});
