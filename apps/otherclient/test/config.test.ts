import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@mxp/service-kit';
import { describe, expect, it } from 'vitest';
import { loadOtherclientConfig } from '../src/config.js';

const DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

describe('loadOtherclientConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadOtherclientConfig({ DATABASE_URL, CLIENT_SECRET_PEPPER: 'p'.repeat(32) });
    expect(config).toMatchObject({
      PORT: 3001,
      HOST: '127.0.0.1',
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      CLIENT_CACHE_MAX_ENTRIES: 10_000,
      VERIFIED_TOKEN_CACHE_MAX_ENTRIES: 50_000,
      TOKEN_AUDIT_BUFFER_MAX_ROWS: 50_000,
    });
  });

  it('names a missing DATABASE_URL', () => {
    expect(() => loadOtherclientConfig({})).toThrow(ConfigError);
    expect(() => loadOtherclientConfig({})).toThrow(/DATABASE_URL is required/);
  });

  it('names each invalid variable', () => {
    const load = () => loadOtherclientConfig({ DATABASE_URL, PORT: 'abc', LOG_LEVEL: 'loud', NODE_ENV: 'prod' });
    expect(load).toThrow(/PORT must be integer/);
    expect(load).toThrow(/LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent/);
    expect(load).toThrow(/NODE_ENV must be one of development, production, test/);
  });

  it('refuses to start in production without a pepper', () => {
    expect(() => loadOtherclientConfig({ DATABASE_URL, NODE_ENV: 'production' })).toThrow(
      /CLIENT_SECRET_PEPPER is required in production/,
    );
  });

  it('refuses a short pepper', () => {
    expect(() => loadOtherclientConfig({ DATABASE_URL, CLIENT_SECRET_PEPPER: 'short' })).toThrow(
      /CLIENT_SECRET_PEPPER must NOT have fewer than 32 characters/,
    );
  });

  it('generates a development pepper once in DATA_DIR and reuses it', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mxp-config-'));
    const first = loadOtherclientConfig({ DATABASE_URL, DATA_DIR: dataDir });
    const second = loadOtherclientConfig({ DATABASE_URL, DATA_DIR: dataDir });
    expect(first.CLIENT_SECRET_PEPPER).toHaveLength(43);
    expect(second.CLIENT_SECRET_PEPPER).toBe(first.CLIENT_SECRET_PEPPER);
    const file = join(dataDir, 'otherclient-secret-pepper');
    expect(readFileSync(file, 'utf8').trim()).toBe(first.CLIENT_SECRET_PEPPER);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('reads a secret from X_FILE (container secrets)', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mxp-config-')), 'pepper');
    writeFileSync(file, `${'s'.repeat(40)}\n`);
    const config = loadOtherclientConfig({ DATABASE_URL, NODE_ENV: 'production', CLIENT_SECRET_PEPPER_FILE: file });
    expect(config.CLIENT_SECRET_PEPPER).toBe('s'.repeat(40));
    expect(() =>
      loadOtherclientConfig({ DATABASE_URL, NODE_ENV: 'production', CLIENT_SECRET_PEPPER_FILE: `${file}.missing` }),
    ).toThrow(/CLIENT_SECRET_PEPPER_FILE cannot be read \(ENOENT\)/);
  });
});
