// Checks of a service's OpenAPI document against the app that serves it, for both services' openapi tests.
import { validate } from '@readme/openapi-parser';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';

// ajv-formats is CommonJS: its default export arrives wrapped under ESM.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components?: Record<string, unknown>;
}

interface Operation {
  summary?: string;
  tags?: string[];
  responses: Record<string, { description: string; content?: Record<string, { schema: object }> }>;
}

/** The document's problems according to the OpenAPI 3.1 schema and the parser's rules (none: an empty list). */
export async function documentProblems(document: OpenApiDocument): Promise<string[]> {
  // The parser dereferences in place: it gets a copy.
  const result = await validate(structuredClone(document) as never);
  return result.valid ? [] : result.errors.map((error) => error.message);
}

/** `/a/:id` → `/a/{id}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/**
 * Every method and path the app answers, read from `printRoutes` (Fastify has no other public list of its routes), so
 * a route the docs plugin never saw (one added before it, say) is still found.
 */
export function routesOf(app: FastifyInstance): { method: string; url: string }[] {
  const routes: { method: string; url: string }[] = [];
  const parents: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    // `│   └── /info (GET, HEAD)`: four characters of tree per level, then the segment and its methods.
    const match = /^([│ ]*)(?:├──|└──) (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = (match[1] ?? '').length / 4;
    parents.length = depth;
    const url = (parents[depth - 1] ?? '') + (match[2] ?? '');
    parents.push(url);
    for (const method of (match[3] ?? '').split(', ').filter(Boolean)) routes.push({ method, url });
  }
  return routes;
}

/** Validates actual responses against the document's schema for their route and status. */
export class ResponseChecker {
  private readonly ajv = new Ajv2020({ allErrors: true, strict: false });
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly document: OpenApiDocument) {
    addFormats(this.ajv);
    // One schema for the whole document, so `$ref`s into `#/components` resolve.
    this.ajv.addSchema({ ...document, $id: 'openapi.json' } as object);
  }

  /** Problems of `response` as the answer of `method path` (the document's path, `{param}` style). */
  problems(method: string, path: string, response: LightMyRequestResponse): string[] {
    const operation = this.document.paths[path]?.[method.toLowerCase()];
    if (!operation) return [`${method} ${path} is not in the document`];
    const status = String(response.statusCode);
    const documented = operation.responses[status];
    if (!documented) return [`${method} ${path} answered ${status}, which the document does not list`];
    const content = documented.content?.['application/json'];
    if (!content) {
      return response.body === '' ? [] : [`${method} ${path} ${status}: a body where the document has none`];
    }
    const pointer = `/paths/${escapePointer(path)}/${method.toLowerCase()}/responses/${status}/content/application~1json/schema`;
    const ref = `openapi.json#${pointer}`;
    let check = this.compiled.get(ref);
    if (!check) {
      check = this.ajv.compile({ $ref: ref });
      this.compiled.set(ref, check);
    }
    let body: unknown;
    try {
      body = JSON.parse(response.body);
    } catch {
      return [`${method} ${path} ${status}: the body is not JSON: ${response.body.slice(0, 200)}`];
    }
    if (check(body)) return [];
    return (check.errors ?? []).map(
      (error) => `${method} ${path} ${status}: ${error.instancePath || '(body)'} ${error.message} (${response.body})`,
    );
  }
}

/** JSON Pointer escaping of one path segment. */
function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * Checks real answers against `document` (read when first used, so it may be fetched in a `beforeAll`) and keeps the
 * operations checked, for the test that every documented operation was exercised ({@link documentedOperations}).
 */
export function documentedAnswers(document: () => OpenApiDocument) {
  const exercised = new Set<string>();
  return {
    /** The response has `status`, and matches the documented schema of that status. */
    expectDocumented(method: string, path: string, response: LightMyRequestResponse, status: number): void {
      expect(response.statusCode, describeResponse(response)).toBe(status);
      expect(new ResponseChecker(document()).problems(method, path, response)).toEqual([]);
      exercised.add(`${method} ${path}`);
    },
    /** `METHOD /path` of every operation checked so far, sorted. */
    exercised: (): string[] => [...exercised].sort(),
  };
}

/** `METHOD /path` of every operation in the document, sorted. */
export function documentedOperations(document: OpenApiDocument): string[] {
  return Object.entries(document.paths)
    .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
}

/** A one-line summary of an injected response, for assertion messages. */
export function describeResponse(response: LightMyRequestResponse): string {
  return `${response.statusCode} ${response.body.slice(0, 300)}`;
}

/**
 * Examples that do not match their own schema: every `examples` of a schema (and its subschemas) and every media
 * type's `example`, anywhere in the document. An example that lies is worse than none.
 */
export function exampleProblems(document: OpenApiDocument): string[] {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  const problems: string[] = [];
  const check = (schema: object, example: unknown, where: string) => {
    const { examples: _examples, ...rest } = schema as Record<string, unknown>;
    const validateExample = ajv.compile(rest);
    if (!validateExample(example)) {
      problems.push(`${where}: ${JSON.stringify(example)} ${ajv.errorsText(validateExample.errors)}`);
    }
  };
  const walkSchema = (schema: unknown, where: string) => {
    if (schema === null || typeof schema !== 'object') return;
    if (Array.isArray(schema)) {
      for (const [index, item] of schema.entries()) walkSchema(item, `${where}/${index}`);
      return;
    }
    const examples = (schema as { examples?: unknown }).examples;
    if (Array.isArray(examples)) for (const example of examples) check(schema, example, where);
    for (const [key, value] of Object.entries(schema)) {
      if (key !== 'examples' && key !== 'example') walkSchema(value, `${where}/${key}`);
    }
  };
  const walk = (node: unknown, where: string) => {
    if (node === null || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    if (record.schema && typeof record.schema === 'object') {
      walkSchema(record.schema, `${where}/schema`);
      if ('example' in record) check(record.schema, record.example, `${where}/example`);
      // A media type's named examples: `{name: {value}}`.
      if (record.examples && typeof record.examples === 'object' && !Array.isArray(record.examples)) {
        for (const [name, example] of Object.entries(record.examples as Record<string, { value?: unknown }>)) {
          check(record.schema, example.value, `${where}/examples/${name}`);
        }
      }
    }
    for (const [key, value] of Object.entries(record)) {
      if (key !== 'schema' && key !== 'examples') walk(value, `${where}/${key}`);
    }
  };
  walk(document.paths, '#/paths');
  return problems;
}

const isDocsRoute = (url: string) => /(^|\/)docs(\/json)?$/.test(url);

/**
 * The checks of the document itself, the same for both services: valid OpenAPI 3.1, every route Fastify has with every
 * status its schema declares, the page, the copy under the route prefix, no rate limit, 404s in the envelope.
 */
export function documentSuite(options: {
  app: () => FastifyInstance;
  document: () => OpenApiDocument;
  prefix: string;
}): void {
  describe('GET /docs/json', () => {
    it('is a valid OpenAPI 3.1 document whose examples match their schemas', async () => {
      expect(options.document().openapi).toBe('3.1.0');
      expect(await documentProblems(options.document())).toEqual([]);
      expect(exampleProblems(options.document())).toEqual([]);
    });

    it('has every route Fastify has, with the same method and path, and nothing else', () => {
      const served = routesOf(options.app())
        .filter(({ method, url }) => method !== 'HEAD' && method !== 'OPTIONS' && !isDocsRoute(url))
        .map(({ method, url }) => `${method} ${openApiPath(url)}`);
      const documented = Object.entries(options.document().paths).flatMap(([path, operations]) =>
        Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
      );
      expect(served.length).toBeGreaterThan(5);
      expect(documented.sort()).toEqual(served.sort());
    });

    it('lists every status code each route declares, with a description, and a summary, tag and example', () => {
      const declared = options.app().declaredRoutes.filter((route) => !route.hidden && route.method !== 'HEAD');
      expect(declared.length).toBeGreaterThan(5);
      for (const route of declared) {
        const operation = options.document().paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
        expect(operation, `${route.method} ${route.url}`).toBeDefined();
        expect(Object.keys(operation?.responses ?? {}).sort(), route.url).toEqual([...route.statuses].sort());
        expect(operation?.summary, route.url).toBeTruthy();
        expect(operation?.tags?.length, route.url).toBe(1);
        for (const [status, response] of Object.entries(operation?.responses ?? {})) {
          expect(response.description, `${route.url} ${status}`).not.toBe('Default Response');
        }
        const success = Object.entries(operation?.responses ?? {}).find(([status]) => status.startsWith('2'))?.[1];
        const json = success?.content?.['application/json'] as { example?: unknown; examples?: unknown };
        // The one success without a body is RFC 7009's revocation answer.
        if (json) expect(json.example ?? json.examples, `${route.url} example`).toBeDefined();
      }
    });

    it('is the same document under the route prefix, for an ingress that only forwards the prefix', async () => {
      const prefixed = await options.app().inject({ method: 'GET', url: `${options.prefix}/docs/json` });
      expect(prefixed.statusCode).toBe(200);
      expect(prefixed.json()).toEqual(options.document());
    });

    it('is not rate-limited, and an unknown docs path is a 404 in the error envelope', async () => {
      const response = await options.app().inject({ method: 'GET', url: '/docs/json' });
      expect(response.headers['x-ratelimit-limit']).toBeUndefined();
      const missing = await options.app().inject({ method: 'GET', url: '/docs/nothing-here' });
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toEqual({ code: 404, status: 'error', message: 'Recurso no encontrado' });
    });
  });

  describe('GET /docs', () => {
    it.each(['/docs', `${options.prefix}/docs`])(
      '%s is an HTML page that loads the document beside it',
      async (url) => {
        const response = await options.app().inject({ method: 'GET', url });
        expect(response.statusCode).toBe(200);
        expect(response.headers['content-type']).toMatch(/^text\/html/);
        expect(response.body).toContain(`spec-url="${url}/json"`);
        expect(response.headers['content-security-policy']).toMatch(/default-src 'none'/);
        // The CDN's script runs only if its bytes are the pinned ones.
        expect(response.body).toMatch(/<script src="https:[^"]+" integrity="sha384-[A-Za-z0-9+/]{64}" crossorigin/);
      },
    );
  });
}
