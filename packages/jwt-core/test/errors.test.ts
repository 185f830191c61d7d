import { describe, expect, it } from 'vitest';
import { DEFAULT_ALGORITHM, JwtCoreError, SIGNING_ALGORITHMS } from '../src/index.js';

describe('JwtCoreError', () => {
  it('is an Error carrying a stable code and, for claim failures, the claim', () => {
    const cause = new Error('inner');
    const error = new JwtCoreError('ERR_JWT_CLAIM_INVALID', 'bad iss', { claim: 'iss', cause });
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'JwtCoreError', code: 'ERR_JWT_CLAIM_INVALID', claim: 'iss', cause });
    expect(new JwtCoreError('ERR_JWS_INVALID', 'x').claim).toBeUndefined();
  });
});

describe('DEFAULT_ALGORITHM', () => {
  it('is a supported asymmetric algorithm, so its public key can be published through JWKS', () => {
    expect(SIGNING_ALGORITHMS).toContain(DEFAULT_ALGORITHM);
    expect(DEFAULT_ALGORITHM).not.toBe('HS256');
  });
});
