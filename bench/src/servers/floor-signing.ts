// The floor plus the one thing no token endpoint can skip: signing the token. What an issuance scenario can reach at
// most on this machine, measured rather than estimated. Run as `UV_THREADPOOL_SIZE=1 node
// bench/dist/servers/floor-signing.js`: one libuv thread, as otherclient's start script (the pool only signs); its
// other flags (heap sizes, MALLOC_ARENA_MAX) are not applied, as they are not to the floor.
//
// Exactly the floor (servers/floor.ts: Fastify with `logger: { level: 'info' }`, Fastify's default JSON parser, no
// schema, no plugin, no database), except that `POST /floor` signs an RFC 9068 access token with @mxp/jwt-core's
// signJwt, as otherclient signs its tokens (ES256 key generated at start, the same claims: iss, sub, aud, iat, exp,
// jti, client_id, scope), and answers `{"status":"success","token":...}`.
import { generateSigningKey, importKeySet, signJwt } from '@mxp/jwt-core';
import Fastify from 'fastify';
import { listenForHarness } from './listen.js';

const keySet = await importKeySet({ jwks: JSON.stringify({ keys: [await generateSigningKey('ES256')] }) });

const app = Fastify({ logger: { level: 'info' } });

app.post<{ Body: { clientId?: unknown } }>('/floor', async (request) => {
  const clientId = String(request.body?.clientId ?? 'floor');
  const { token } = await signJwt(
    keySet,
    { client_id: clientId, scope: 'read' },
    {
      typ: 'at+jwt',
      issuer: 'https://floor.bench.invalid',
      audience: 'maxpoint-api',
      subject: clientId,
      expiresInSeconds: 3600,
    },
  );
  return { status: 'success', token };
});

await listenForHarness(app);
