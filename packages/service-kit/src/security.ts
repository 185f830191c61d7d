import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import fp from 'fastify-plugin';

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

/**
 * Security headers for a JSON API (@fastify/helmet): HSTS, `nosniff`, no framing, no referrer, and a CSP that lets
 * a response load nothing (the services serve no HTML). CORS (@fastify/cors) only for the configured origins.
 */
export const securityPlugin = fp<SecurityPluginOptions>(
  async (app, options) => {
    await app.register(helmet, {
      contentSecurityPolicy: {
        useDefaults: false,
        directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
      },
      strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
      referrerPolicy: { policy: 'no-referrer' },
      frameguard: { action: 'deny' },
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
