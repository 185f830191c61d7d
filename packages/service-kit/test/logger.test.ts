import { Writable } from 'node:stream';
import Fastify, { LogController } from 'fastify';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { baseFastifyOptions } from '../src/fastify-options.js';
import { lazyChildLoggerFactory, loggerOptions, requestIdFrom, trustProxyOption, urlForLog } from '../src/logger.js';
import { requestLogging } from '../src/request-logging.js';

describe('loggerOptions', () => {
  it('redacts credentials in request headers and secret fields in logged objects', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const options = loggerOptions({ LOG_LEVEL: 'info', NODE_ENV: 'test', serviceName: 'test' });
    const app = Fastify({ logger: { ...(options as object), stream } });
    await app.register(requestLogging);
    app.post('/x', async (request) => {
      request.log.info({ body: request.body }, 'got body');
      return { ok: true };
    });
    await app.inject({
      method: 'POST',
      url: '/x',
      headers: { authorization: 'Bearer very-secret-token', cookie: 'sid=abc' },
      payload: { password: 'hunter2', clientSecret: 'cs-123', refresh_token: 'rt-456', username: 'ana' },
    });
    await app.close();
    const output = lines.join('');
    for (const secret of ['very-secret-token', 'sid=abc', 'hunter2', 'cs-123', 'rt-456']) {
      expect(output).not.toContain(secret);
    }
    expect(output).toContain('"username":"ana"');
    expect(output).toContain('"service":"test"');
    expect(output).toContain('[redacted]');
  });
});

describe('urlForLog', () => {
  it('blanks every query value and keeps the path and parameter names', () => {
    expect(urlForLog('/api/auth/token/info?access_token=abc.def&x=1#frag')).toBe(
      '/api/auth/token/info?access_token=[redacted]&x=[redacted]#frag',
    );
    expect(urlForLog('/auth/logs')).toBe('/auth/logs');
  });
});

describe('trustProxyOption', () => {
  it('parses booleans, hop counts and address lists', () => {
    expect(trustProxyOption('false')).toBe(false);
    expect(trustProxyOption('')).toBe(false);
    expect(trustProxyOption('true')).toBe(true);
    const twoHops = trustProxyOption('2') as (address: string, hop: number) => boolean;
    expect([twoHops('10.0.0.1', 0), twoHops('10.0.0.1', 1), twoHops('10.0.0.1', 2)]).toEqual([true, true, false]);
    expect(trustProxyOption('10.0.0.0/8, 127.0.0.1')).toEqual(['10.0.0.0/8', '127.0.0.1']);
  });
});

describe('requestLogging', () => {
  it('writes one line per request with id, route, status, latency and subject, and echoes the id', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const options = loggerOptions({ LOG_LEVEL: 'info', NODE_ENV: 'test', serviceName: 'test' });
    const app = Fastify({
      logger: { ...(options as object), stream },
      logController: new LogController({ disableRequestLogging: true }),
      genReqId: requestIdFrom,
    });
    await app.register(requestLogging);
    app.get('/items/:id', async (request) => {
      request.subject = 'user:42';
      return { ok: true };
    });
    const response = await app.inject({ method: 'GET', url: '/items/7?token=abc', headers: { 'x-request-id': 'r-1' } });
    await app.close();
    expect(response.headers['x-request-id']).toBe('r-1');
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const completed = entries.filter((entry) => entry.msg === 'request completed');
    expect(completed).toHaveLength(1);
    expect(entries).toHaveLength(1);
    expect(completed[0]).toMatchObject({
      reqId: 'r-1',
      method: 'GET',
      url: '/items/7?token=[redacted]',
      route: '/items/:id',
      statusCode: 200,
      subject: 'user:42',
    });
    expect(typeof completed[0]?.responseTimeMs).toBe('number');
  });
});

describe('lazyChildLoggerFactory (request loggers made on first use)', () => {
  function capture() {
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    });
    const logger = pino({ level: 'info', redact: { paths: ['*.password'], censor: '[redacted]' } }, stream);
    return { lines, logger };
  }

  it('makes no pino child until something logs, then logs exactly as the child would', () => {
    const { lines, logger } = capture();
    const made: unknown[] = [];
    const parent = Object.assign(Object.create(logger), {
      child: (...args: Parameters<typeof logger.child>) => {
        made.push(args[0]);
        return logger.child(...args);
      },
    });
    const requestLog = lazyChildLoggerFactory(parent, { reqId: 'req-1' }, {});
    expect(made).toEqual([]);
    requestLog.info({ user: { password: 'hunter2' } }, 'signed in');
    requestLog.warn('second line');
    expect(made).toEqual([{ reqId: 'req-1' }]);
    expect(lines).toEqual([
      expect.objectContaining({ level: 30, reqId: 'req-1', user: { password: '[redacted]' }, msg: 'signed in' }),
      expect.objectContaining({ level: 40, reqId: 'req-1', msg: 'second line' }),
    ]);
  });

  it("honours the route's log level and makes children of its own", () => {
    const { lines, logger } = capture();
    const requestLog = lazyChildLoggerFactory(logger, { reqId: 'req-2' }, { level: 'warn' });
    expect(requestLog.level).toBe('warn');
    requestLog.info('dropped');
    requestLog.child({ part: 'db' }).error('kept');
    expect(lines).toEqual([expect.objectContaining({ level: 50, reqId: 'req-2', part: 'db', msg: 'kept' })]);
  });

  it("is what Fastify's requests log through: the request id is on their lines", async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const app = Fastify(
      Object.assign(
        baseFastifyOptions({ LOG_LEVEL: 'info', NODE_ENV: 'test', TRUST_PROXY: '', BODY_LIMIT_BYTES: 1024 }, 't'),
        {
          logger: { level: 'info', stream },
        },
      ),
    );
    app.get('/x', async (request) => {
      request.log.info('inside');
      return { ok: true };
    });
    const response = await app.inject({ url: '/x', headers: { 'x-request-id': 'abc-123' } });
    await app.close();
    expect(response.statusCode).toBe(200);
    expect(lines.map((line) => JSON.parse(line))).toContainEqual(
      expect.objectContaining({ reqId: 'abc-123', msg: 'inside' }),
    );
  });
});
