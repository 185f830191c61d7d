import { describe, expect, it } from 'vitest';
import { JwtCoreError, VerifiedTokenCache } from '../src/index.js';

const EXP = 2_000_000_000;

interface Claims {
  sessionId: string;
  jti: string;
  exp: number;
}

function claims(sessionId: string, exp = EXP): Claims {
  return { sessionId, jti: `j-${sessionId}`, exp };
}

/** A verifier that counts its calls. */
function verifier(result: Claims | Error) {
  const calls = { count: 0 };
  return {
    calls,
    verify: async () => {
      calls.count++;
      if (result instanceof Error) throw result;
      return result;
    },
  };
}

const at = (seconds: number) => new Date(seconds * 1000);

describe('VerifiedTokenCache', () => {
  it('verifies a token once, then answers from memory until its exp (as jose: expired at exp)', async () => {
    const cache = new VerifiedTokenCache<Claims>(10);
    const { calls, verify } = verifier(claims('s1'));
    expect(await cache.verify('t1', at(EXP - 100), verify)).toEqual(claims('s1'));
    expect(await cache.verify('t1', at(EXP - 1), verify)).toEqual(claims('s1'));
    expect(await cache.verify('t1', new Date(EXP * 1000 - 1), verify)).toEqual(claims('s1'));
    expect(calls.count).toBe(1);
    // From exp on, the token is verified again (and the verifier refuses it as expired).
    const expired = new JwtCoreError('ERR_JWT_EXPIRED', 'expired');
    await expect(cache.verify('t1', at(EXP), verifier(expired).verify)).rejects.toBe(expired);
    expect(cache.size).toBe(0);
  });

  it('keeps no failure: a refused token is verified again each time', async () => {
    const cache = new VerifiedTokenCache<Claims>(10);
    const { calls, verify } = verifier(new JwtCoreError('ERR_JWS_SIGNATURE_INVALID', 'bad'));
    for (let i = 0; i < 3; i++) await expect(cache.verify('forged', at(0), verify)).rejects.toThrow('bad');
    expect(calls.count).toBe(3);
    expect(cache.size).toBe(0);
  });

  it('tells tokens apart by their whole content, and keeps at most maxEntries (oldest out first)', async () => {
    const cache = new VerifiedTokenCache<Claims>(2);
    await cache.verify('a.b.c', at(0), verifier(claims('s1')).verify);
    await cache.verify('a.b.d', at(0), verifier(claims('s2')).verify);
    await cache.verify('a.b.e', at(0), verifier(claims('s3')).verify);
    expect(cache.size).toBe(2);
    const again = verifier(claims('s1'));
    await cache.verify('a.b.c', at(0), again.verify);
    expect(again.calls.count).toBe(1);
    const kept = verifier(claims('never'));
    expect(await cache.verify('a.b.e', at(0), kept.verify)).toEqual(claims('s3'));
    expect(kept.calls.count).toBe(0);
  });

  it('hands out the claims frozen: a caller cannot change what the next hit answers', async () => {
    const cache = new VerifiedTokenCache<Claims>(10);
    const first = await cache.verify('t', at(0), verifier(claims('s1')).verify);
    expect(Object.isFrozen(first)).toBe(true);
    expect(() => {
      (first as { sessionId: string }).sessionId = 'other';
    }).toThrow(TypeError);
    expect(cache.get('t', at(0))).toEqual(claims('s1'));
  });

  it('with 0 entries verifies every time', async () => {
    const cache = new VerifiedTokenCache<Claims>(0);
    const { calls, verify } = verifier(claims('s1'));
    await cache.verify('t', at(0), verify);
    await cache.verify('t', at(0), verify);
    expect(calls.count).toBe(2);
    expect(cache.size).toBe(0);
  });
});
