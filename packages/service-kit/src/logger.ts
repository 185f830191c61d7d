import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyRequest, FastifyServerOptions } from 'fastify';

/** Paths pino blanks in every log line: credentials, secrets and tokens never reach the logs. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.clientSecret',
  '*.client_secret',
  '*.refresh_token',
  '*.access_token',
  '*.token',
  '*.secret',
];

/** A URL as logged: query values are blanked, since a careless client may put a token or a secret there. */
export function urlForLog(url: string): string {
  if (!url.includes('?')) return url;
  return url.replace(/([?&][^=&#]*=)[^&#]*/g, '$1[redacted]');
}

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Keeps an incoming `X-Request-Id` (from the ingress) when it is well formed, else makes a new one. */
export function requestIdFrom(request: IncomingMessage): string {
  const incoming = request.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
}

/** Fastify's logger settings: JSON lines with a request id, secrets redacted, `pino-pretty` only in development. */
export function loggerOptions(config: {
  LOG_LEVEL: string;
  NODE_ENV: string;
  serviceName: string;
}): NonNullable<FastifyServerOptions['logger']> {
  return {
    level: config.LOG_LEVEL,
    base: { service: config.serviceName },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: {
      req: (request: FastifyRequest) => ({
        method: request.method,
        url: urlForLog(request.url),
        host: request.host,
        remoteAddress: request.ip,
        remotePort: request.socket?.remotePort,
      }),
    },
    ...(config.NODE_ENV === 'development' && process.stdout.isTTY
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }
      : {}),
  };
}

/** Parses TRUST_PROXY into what Fastify's `trustProxy` option takes. */
export function trustProxyOption(value: string): boolean | string[] | ((address: string, hop: number) => boolean) {
  const trimmed = value.trim();
  if (trimmed === '' || trimmed === 'false') return false;
  if (trimmed === 'true') return true;
  if (/^\d+$/.test(trimmed)) {
    // A hop count: trust that many proxies in front of the service, whatever their addresses.
    const hops = Number(trimmed);
    return (_address, hop) => hop < hops;
  }
  return trimmed
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
}
