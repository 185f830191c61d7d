import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as jose from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteKeySet, exportJwks, type KeySet, signJwt, verifyJwt } from '../src/index.js';
import { expectJwtError, forgeToken, newKeySet, SIGN_OPTIONS, TYP, validClaims, verifyOptions } from './helpers.js';

type Handler = Parameters<typeof createServer>[1] & {};

const servers: Server[] = [];

async function serve(handler: Handler): Promise<{ url: string; requests: () => number; server: Server }> {
  let count = 0;
  const server = createServer((request, response) => {
    count++;
    handler(request, response);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/.well-known/jwks.json`, requests: () => count, server };
}

function serveJwks(getKeySet: () => KeySet) {
  return serve((_, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify(exportJwks(getKeySet())));
  });
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

let es256: KeySet;
let next: KeySet;
const ES256_ONLY = verifyOptions(['ES256']);

beforeAll(async () => {
  [es256, next] = await Promise.all([newKeySet('ES256'), newKeySet('ES256')]);
});

describe('createRemoteKeySet', () => {
  it('verifies tokens against a JWKS fetched over HTTP, and caches it', async () => {
    const { url, requests } = await serveJwks(() => es256);
    const remote = createRemoteKeySet(url, { cacheMaxAge: 60_000, cooldownDuration: 30_000, timeoutDuration: 2_000 });
    for (let i = 0; i < 3; i++) {
      const { token } = await signJwt(es256, {}, SIGN_OPTIONS);
      await expect(verifyJwt(token, remote, ES256_ONLY)).resolves.toBeDefined();
    }
    expect(requests()).toBe(1);
    expect(remote.fresh).toBe(true);
  });

  it('refetches on an unknown kid, so a rotated key is picked up', async () => {
    let current = es256;
    const { url, requests } = await serveJwks(() => current);
    const remote = createRemoteKeySet(url, { cooldownDuration: 0 });
    const { token: oldToken } = await signJwt(es256, {}, SIGN_OPTIONS);
    await verifyJwt(oldToken, remote, ES256_ONLY);
    current = next;
    const { token: newToken } = await signJwt(next, {}, SIGN_OPTIONS);
    await expect(verifyJwt(newToken, remote, ES256_ONLY)).resolves.toBeDefined();
    expect(requests()).toBe(2);
  });

  it('reports an unknown kid as ERR_JWKS_NO_MATCHING_KEY', async () => {
    const { url } = await serveJwks(() => es256);
    const remote = createRemoteKeySet(url);
    const { token } = await signJwt(next, {}, SIGN_OPTIONS);
    await expectJwtError(verifyJwt(token, remote, ES256_ONLY), 'ERR_JWKS_NO_MATCHING_KEY');
  });

  it('refuses HS256 tokens, which a JWKS of public keys cannot verify', async () => {
    const { url } = await serveJwks(() => es256);
    const key = await crypto.subtle.importKey('raw', new Uint8Array(32), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
    ]);
    const token = await forgeToken({ alg: 'HS256', kid: es256.signingKey.kid, typ: TYP }, validClaims(), {
      alg: 'HS256',
      key,
    });
    await expectJwtError(
      verifyJwt(token, createRemoteKeySet(url), verifyOptions(['ES256', 'HS256'])),
      'ERR_JOSE_ALG_NOT_ALLOWED',
    );
  });

  describe('reports an unreachable or unusable JWKS as ERR_JWKS_UNAVAILABLE', () => {
    it.each([
      [
        'a 500 response',
        (_: unknown, response: { statusCode: number; end: () => void }) => {
          response.statusCode = 500;
          response.end();
        },
      ],
      ['a body that is not JSON', (_: unknown, response: { end: (body: string) => void }) => response.end('<html>')],
      [
        'a body that is not a JWK Set',
        (_: unknown, response: { end: (body: string) => void }) => response.end('{"keys":1}'),
      ],
      ['no response before the timeout', () => undefined],
    ])('on %s', async (_, handler) => {
      const { url } = await serve(handler as Handler);
      const remote = createRemoteKeySet(url, { timeoutDuration: 200 });
      const { token } = await signJwt(es256, {}, SIGN_OPTIONS);
      await expectJwtError(verifyJwt(token, remote, ES256_ONLY), 'ERR_JWKS_UNAVAILABLE');
      await expectJwtError(remote.reload(), 'ERR_JWKS_UNAVAILABLE');
    });

    it('also through a plain jose remote set', async () => {
      const { url } = await serve((_, response) => {
        response.statusCode = 503;
        response.end();
      });
      const { token } = await signJwt(es256, {}, SIGN_OPTIONS);
      const remote = jose.createRemoteJWKSet(new URL(url));
      await expectJwtError(verifyJwt(token, remote, ES256_ONLY), 'ERR_JWKS_UNAVAILABLE');
    });

    it('on a closed port', async () => {
      const { url, server } = await serveJwks(() => es256);
      await new Promise((resolve) => server.close(resolve));
      const { token } = await signJwt(es256, {}, SIGN_OPTIONS);
      await expectJwtError(verifyJwt(token, createRemoteKeySet(url), ES256_ONLY), 'ERR_JWKS_UNAVAILABLE');
    });
  });

  it('refuses an invalid URL or options as ERR_KEY_CONFIG_INVALID', () => {
    for (const call of [
      () => createRemoteKeySet('not a url'),
      () => createRemoteKeySet('ftp://example.test/jwks.json'),
      () => createRemoteKeySet('https://example.test/jwks.json', { timeoutDuration: -1 }),
    ]) {
      expect(call).toThrow(expect.objectContaining({ code: 'ERR_KEY_CONFIG_INVALID' }));
    }
  });
});
