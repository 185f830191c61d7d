import swagger from '@fastify/swagger';
import type { FastifyInstance, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Every route added after the docs plugin, with the status codes its own schema declares (HEAD and hidden routes
     * included): what the tests compare the document with.
     */
    declaredRoutes: readonly { method: string; url: string; statuses: string[]; hidden: boolean }[];
  }
}

export interface ApiDocsOptions {
  title: string;
  version: string;
  description: string;
  /** Route prefixes under which the docs are served too, so an ingress that forwards only a prefix exposes them. */
  prefixes: string[];
  /** Tags of the document, in the order the page lists them. */
  tags: { name: string; description: string }[];
  /** The tag of each route, by the first path prefix it starts with (the first match wins). */
  tagOf: (url: string) => string | undefined;
  /** Whether a route takes `Authorization: Bearer <access token>` (shown as the `bearer` security scheme). */
  takesBearer: (url: string, route: RouteOptions) => boolean;
}

/** Redoc, pinned: a read-only page (no "try it out" sending credentials from the browser), one script, no assets. */
const REDOC_SCRIPT = 'https://cdn.jsdelivr.net/npm/redoc@2.5.4/bundles/redoc.standalone.js';
/**
 * Subresource integrity of that script: the browser refuses it if the CDN ever serves other bytes. The hash of
 * `bundles/redoc.standalone.js` in the npm package redoc@2.5.4, which jsDelivr serves unchanged
 * (`openssl dgst -sha384 -binary ... | openssl base64 -A`).
 */
const REDOC_INTEGRITY = 'sha384-w447zOpYfw/1Tv/5AK9NfHTlQIqE3RVR6KY62jCyy9zNDgO64cMwGGP1Fj0zJVf5';

/**
 * The page's own CSP: the API's CSP (`default-src 'none'`) would block it. Redoc needs its script, inline styles, a
 * web worker from a blob and the document from this origin.
 */
const PAGE_CSP = [
  "default-src 'none'",
  'script-src https://cdn.jsdelivr.net',
  "style-src 'unsafe-inline' https://fonts.googleapis.com",
  'font-src https://fonts.gstatic.com',
  'img-src data: https://cdn.redoc.ly',
  "connect-src 'self'",
  'worker-src blob:',
  "frame-ancestors 'none'",
].join('; ');

function docsPage(title: string, specUrl: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
</head>
<body>
<redoc spec-url="${specUrl}"></redoc>
<script src="${REDOC_SCRIPT}" integrity="${REDOC_INTEGRITY}" crossorigin="anonymous"></script>
</body>
</html>
`;
}

/**
 * A copy of a contract schema as plain JSON: TypeBox's markers go (they are not JSON), and so does `$id`, since a
 * schema used by several routes is inlined once per use and one document must not hold one `$id` twice.
 */
export function plainSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(plainSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key !== '$id' && !key.startsWith('~')) copy[key] = plainSchema(value);
  }
  return copy;
}

/**
 * OpenAPI 3.1 from the routes' own schemas (the `@mxp/contracts` TypeBox schemas), at `/docs/json`, and a page at
 * `/docs`, both at the root and under each prefix. Register it before the routes: it collects them as they are added.
 */
export const apiDocs = fp<ApiDocsOptions>(
  async (app, options) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: options.title, version: options.version, description: options.description },
        tags: options.tags,
        components: {
          securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
        },
      },
      // Only the schemas the routes declare; HEAD routes (Fastify's automatic ones) are not documented.
      transform: ({ schema, url, route }) => {
        const plain = plainSchema(schema ?? {}) as Record<string, unknown>;
        const tag = options.tagOf(url);
        if (tag && !plain.tags) plain.tags = [tag];
        if (options.takesBearer(url, route)) plain.security = [{ bearer: [] }];
        plain.response = describeResponses(plain.response);
        return { schema: plain, url };
      },
    });

    const declaredRoutes: { method: string; url: string; statuses: string[]; hidden: boolean }[] = [];
    app.decorate('declaredRoutes', declaredRoutes);
    app.addHook('onRoute', (route) => {
      const schema = route.schema as { response?: object; hide?: boolean } | undefined;
      for (const method of [route.method].flat()) {
        declaredRoutes.push({
          method,
          url: route.url,
          statuses: Object.keys(schema?.response ?? {}),
          hidden: schema?.hide === true,
        });
      }
    });

    let document: string | undefined;
    // Built once, when every route is known; the routes below only send the string.
    app.addHook('onReady', (done) => {
      document = JSON.stringify(app.swagger());
      done();
    });

    for (const prefix of ['', ...options.prefixes]) {
      registerDocsRoutes(app, prefix, options.title, () => document ?? JSON.stringify(app.swagger()));
    }
  },
  { name: 'mxp-api-docs', fastify: '5.x', dependencies: ['mxp-error-handler', 'mxp-rate-limit'] },
);

/** What each documented status means, where the schema itself does not say (else the document says "Default Response"). */
const STATUS_DESCRIPTIONS: Record<string, string> = {
  200: 'OK',
  201: 'Created',
  400: 'Malformed or invalid request',
  401: 'Missing or invalid credentials or token',
  403: 'Forbidden',
  404: 'Not found',
  429: 'Too many requests (see Retry-After)',
  503: 'Service unavailable: the database does not answer (see Retry-After)',
};

function describeResponses(response: unknown): unknown {
  if (response === null || typeof response !== 'object') return response;
  return Object.fromEntries(
    Object.entries(response).map(([status, schema]) => [
      status,
      { description: STATUS_DESCRIPTIONS[status] ?? `HTTP ${status}`, ...(schema as object) },
    ]),
  );
}

function registerDocsRoutes(app: FastifyInstance, prefix: string, title: string, document: () => string) {
  // Not documented themselves (`hide`), not rate-limited (a static document, as cheap as the health probe), and
  // without the API's CSP, which the page replaces with its own.
  const routeOptions = { schema: { hide: true }, config: { rateLimit: false, securityHeaders: false } } as const;
  app.get(`${prefix}/docs/json`, routeOptions, async (_request, reply) =>
    reply
      .type('application/json; charset=utf-8')
      .headers({ 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' })
      .send(document()),
  );
  const page = docsPage(title, `${prefix}/docs/json`);
  app.get(`${prefix}/docs`, routeOptions, async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .headers({
        'content-security-policy': PAGE_CSP,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      })
      .send(page),
  );
}
