import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from '@fastify/cors';
import fp from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * `false` on a route that only machines call (gateways, WebSocket servers): no browser-protection headers, which
     * would be bytes and CPU spent on every call for nothing. The route sends what still matters to a machine itself.
     */
    securityHeaders?: boolean;
  }
}

export interface SecurityPluginOptions {
  /** Exact origins allowed to call the service from a browser; CORS stays off (no CORS header at all) when empty. */
  corsOrigins: string[];
}

/** The plugin's options from a service's configuration (CORS_ORIGINS: comma-separated origins). */
export function securityOptions(config: { CORS_ORIGINS?: string | undefined }): SecurityPluginOptions {
  const corsOrigins = (config.CORS_ORIGINS ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    // Browsers send the serialized origin: lower-case host, no default port.
    .map((entry) => new URL(entry).origin);
  return { corsOrigins: [...new Set(corsOrigins)] };
}

/** Headers that a browser may read from a cross-origin response, besides the CORS-safelisted ones. */
const EXPOSED_HEADERS = [
  'x-request-id',
  'x-next-cursor',
  'retry-after',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  'www-authenticate',
];

/** helmet's settings for a JSON API that serves no HTML. */
const HELMET_OPTIONS: HelmetOptions = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
  },
  strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
  referrerPolicy: { policy: 'no-referrer' },
  frameguard: { action: 'deny' },
};

/**
 * The headers helmet's middleware sets with `options`, as a plain object. With static options (no per-request CSP
 * nonce or directive function) they are the same for every response, so they are worked out once: @fastify/helmet
 * builds and runs the whole middleware again for every request, about 5% of a token request's CPU.
 */
export function helmetHeaders(options: HelmetOptions = HELMET_OPTIONS): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: unknown) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
  });
  return headers;
}

/**
 * Security headers for a JSON API (helmet's): HSTS, `nosniff`, no framing, no referrer, and a CSP that lets a
 * response load nothing (the services serve no HTML); a route opts out with `config.securityHeaders: false`. CORS
 * (@fastify/cors) only for the configured origins.
 */
export const securityPlugin = fp<SecurityPluginOptions>(
  async (app, options) => {
    const headers = helmetHeaders();
    app.addHook('onRequest', (request, reply, done) => {
      if (request.routeOptions.config.securityHeaders !== false) reply.headers(headers);
      done();
    });
    if (options.corsOrigins.length === 0) return;
    await app.register(cors, {
      origin: options.corsOrigins,
      methods: ['GET', 'POST', 'DELETE'],
      // Bearer tokens travel in the Authorization header; there are no cookies to send.
      credentials: false,
      allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
      exposedHeaders: EXPOSED_HEADERS,
      maxAge: 600,
    });
  },
  { name: 'mxp-security', fastify: '5.x' },
);
