// A service that is closing (SIGTERM, a rolling restart) still answers a request that reached it on a connection it
// had already accepted: nginx passes neither a 503 nor a POST it has sent to another replica, so refusing it would
// fail the client's request. The end-to-end counterpart is e2e/test/ingress.test.ts ("stopped mid-run"). And a
// keep-alive connection busy when closing begins is ended after its answer, rather than keeping the process waiting.
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { baseFastifyOptions, gracefulClose } from '../src/index.js';

const config = { LOG_LEVEL: 'silent', NODE_ENV: 'test', TRUST_PROXY: 'false', BODY_LIMIT_BYTES: 65_536 };
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function until(condition: () => boolean): Promise<void> {
  for (let round = 0; !condition(); round++) {
    if (round > 500) throw new Error('condition not met after 5 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('a request that arrives while the service closes', () => {
  it('is served with Connection: close, not refused with 503, and closing waits for it', async () => {
    const app = Fastify(baseFastifyOptions(config, 'test'));
    app.post('/things', async () => ({ served: true }));
    let serverSide: Socket | undefined;
    app.server.on('connection', (socket: Socket) => {
      serverSide = socket;
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    if (typeof address !== 'object' || !address) throw new Error('not listening');

    const client = connect(address.port, '127.0.0.1');
    cleanups.push(() => client.destroy());
    let received = '';
    client.setEncoding('utf8').on('data', (chunk: string) => {
      received += chunk;
    });
    const ended = new Promise<void>((resolve) => client.on('close', () => resolve()));
    // The request line first: the connection now carries a request in progress, which closing must not cut (an idle
    // connection, one with no request begun, is closed at once; that is Node's and not in question here).
    client.write('POST /things HTTP/1.1\r\nHost: test\r\n');
    await until(() => (serverSide?.bytesRead ?? 0) > 0);

    let closed = false;
    const closing = app.close().then(() => {
      closed = true;
    });
    cleanups.push(() => closing);
    await until(() => !app.server.listening);
    expect(closed, 'closing waits for the request in progress').toBe(false);

    client.write('Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
    await ended;
    await closing;
    expect(received).toMatch(/^HTTP\/1\.1 200 /);
    expect(received).toMatch(/\r\nconnection: close\r\n/i);
    expect(received).toContain('{"served":true}');
  });

  it('ends a keep-alive connection busy when closing began: its answer says Connection: close, closing does not wait', async () => {
    const app = Fastify(baseFastifyOptions(config, 'test'));
    await app.register(gracefulClose);
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered: () => void = () => {};
    const inHandler = new Promise<void>((resolve) => {
      entered = resolve;
    });
    app.get('/held', async () => {
      entered();
      await held;
      return { served: true };
    });
    app.get('/quick', async () => ({ served: true }));
    let connections = 0;
    app.server.on('connection', () => {
      connections += 1;
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    if (typeof address !== 'object' || !address) throw new Error('not listening');
    // One socket, kept alive between requests, as an ingress keeps its upstream connections.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => agent.destroy());
    const get = (path: string) =>
      new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
        const sent = request({ host: '127.0.0.1', port: address.port, path, agent }, (response) => {
          response.resume();
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, connection: response.headers.connection }),
          );
        });
        sent.on('error', reject);
        sent.end();
      });
    expect(await get('/quick')).toEqual({ status: 200, connection: 'keep-alive' });

    const busy = get('/held');
    // The request is in the handler (its connection busy) when closing begins.
    await inHandler;
    expect(connections).toBe(1);
    const startedAt = performance.now();
    const closing = app.close().then(() => performance.now() - startedAt);
    cleanups.push(() => closing);
    await until(() => !app.server.listening);
    release();
    expect(await busy).toEqual({ status: 200, connection: 'close' });
    // Without the header Node keeps the connection for its client, and closing waits for it (seconds to minutes).
    expect(await closing).toBeLessThan(1_000);
  });
});
