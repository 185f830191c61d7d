import { describe, expect, it } from 'vitest';
import { bearerTokenFrom } from '../src/bearer-token.js';

describe('bearerTokenFrom', () => {
  it('reads the token of an RFC 6750 Authorization header', () => {
    expect(bearerTokenFrom('Bearer abc.def-ghi_~+/=')).toBe('abc.def-ghi_~+/=');
    expect(bearerTokenFrom('bearer  abc')).toBe('abc');
  });

  it('gives nothing for an absent, empty, foreign or malformed header', () => {
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      'Basic abc',
      'Bearer a b',
      'Bearer a,b',
      `Bearer ${'a'.repeat(9000)}`,
    ]) {
      expect(bearerTokenFrom(header)).toBeUndefined();
    }
  });
});
