// Generators of hostile HTTP requests, and checks of the answers, for both services' property-based tests.
import type { PrismaClient } from '@mxp/db';
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';

/** Fixed so a failure replays; fast-check prints `{ seed, path }` on failure, and `FC_SEED=<seed>` replays it. */
export const SEED = Number(process.env.FC_SEED ?? 0x6d78_7001);

/** fast-check parameters of every property: the fixed seed and `numRuns` runs. */
export function runs(numRuns: number): fc.Parameters<unknown> {
  return { numRuns, seed: SEED };
}

// ─── strings ───

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));
const specialChar = fc.constantFrom(
  '\u0000',
  '\u0001',
  '\u001f',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u200b',
  '\u202e',
  '\u2028',
  '\ufeff',
  '\ufffd',
  '\uffff',
  '😀',
  'é',
  'e\u0301',
  'İ',
  'ß',
  '%',
  '%00',
  '%ZZ',
  '%ED%A0%80',
  '"',
  "'",
  '\\',
  '\n',
  '\r\n',
  '\t',
  '+',
  '=',
  ':',
  ';',
  '&',
  '?',
  '#',
  '.',
  '/',
  '..',
  '<',
  '{',
  '[',
  '$',
  '*',
);

/** One character of anything: printable ASCII mostly, any code point, lone surrogates, NUL and other troublemakers. */
export const hostileChar = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: loneSurrogate },
  { weight: 2, arbitrary: specialChar },
);

/** A string a client should never be trusted with: short junk, magic words, lengths around every limit. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 10, arbitrary: fc.string({ unit: hostileChar, maxLength: 24 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      'null',
      'true',
      '0',
      '-1',
      '1e309',
      'NaN',
      '__proto__',
      'constructor',
      'prototype',
      'toString',
      '%s%s%s%n',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a log-injection payload, meant literally
      '${jndi:ldap://x/a}',
      "' OR '1'='1' --",
      '<script>alert(1)</script>',
      '../../etc/passwd',
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom('a', 'é', '😀', '\u0000', '\ud800', '%'),
        fc.constantFrom(64, 199, 200, 201, 320, 321, 1024, 1025, 4096, 8192, 8193, 12_000),
      )
      .map(([unit, count]) => unit.repeat(count)),
  },
);

/** Keys of JSON objects: junk, prototype-pollution names, or the field names the routes know. */
export function hostileKey(fieldNames: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...fieldNames) },
    { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', '', ' ', '\u0000', '\ud800') },
    { weight: 2, arbitrary: fc.string({ unit: hostileChar, maxLength: 12 }) },
  );
}

// ─── JSON ───

const oddNumber = fc.constantFrom(2 ** 53 + 1, -0, 1e308, -1e-308, 0.1 + 0.2, Number.MAX_SAFE_INTEGER, -1, 0);

/** A JSON value (as a JS value) built of hostile strings and keys, a few levels deep. */
export function hostileJson(fieldNames: readonly string[]): fc.Arbitrary<unknown> {
  const key = hostileKey(fieldNames);
  return fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      hostileString,
      fc.integer(),
      fc.double(),
      oddNumber,
      fc.boolean(),
      fc.constant(null),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(key, tie('value'), { maxKeys: 5 }),
    ),
  })).value;
}

/** `JSON.stringify` that never yields `undefined` (fc.anything can produce values JSON cannot represent). */
export function toJsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    return 'null';
  }
}

/** Deeply nested arrays/objects around a leaf (the body limit allows tens of thousands of levels). */
export function deeplyNested(wrap: (inner: string) => string = (inner) => inner): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.oneof(fc.integer({ min: 20, max: 200 }), fc.integer({ min: 200, max: 9000 })),
      fc.constantFrom<[string, string]>(['[', ']'], ['{"a":', '}'], ['[{"a":', '}]']),
      fc.constantFrom('1', '"x"', '"\\u0000"', '"\\ud800"', '{"\\u0000":1}', 'null', '{}'),
    )
    .map(([depth, [open, close], leaf]) => wrap(`${open.repeat(depth)}${leaf}${close.repeat(depth)}`));
}

/** Texts that are almost JSON, JSON that parsers disagree on, and JSON-looking things that are not. */
export const trickyJsonText = fc.constantFrom(
  '',
  ' ',
  'null',
  '[]',
  '{}',
  '"string"',
  '123',
  '{',
  '{"a":1,}',
  "{'a':1}",
  '{"a":1}{"b":2}',
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '{"a":"\\u0000"}',
  '{"a":"\\ud800"}',
  '{"\\ud800":1}',
  '{"a":"\\x41"}',
  '{"a":NaN}',
  '{"a":Infinity}',
  '{"a":1e999999}',
  '{"a":-}',
  '\ufeff{}',
  '{"a":1}\u0000',
  '/*c*/{}',
  '{"a":1} // comment',
);

// ─── raw bytes ───

/** Payload bytes: random, invalid UTF-8 (CESU surrogates, overlong NUL), BOMs, UTF-16, NULs, sizes at the limit. */
export function rawPayload(bodyLimit: number): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)) },
    { weight: 3, arbitrary: hostileString.map((text) => Buffer.from(text, 'utf8')) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(
          fc.constantFrom('{"clientId":"', '{"a":"', 'token=', 'client_id=', '{"refresh_token":"', '{"password":"'),
          fc.constantFrom(
            [0xed, 0xa0, 0x80],
            [0xed, 0xbf, 0xbf],
            [0xc0, 0x80],
            [0xe0, 0x80, 0x80],
            [0xff, 0xfe],
            [0x00],
            [0xf4, 0x90, 0x80, 0x80],
            [0x80],
          ),
          fc.constantFrom('"}', '"', '', '&x=1'),
        )
        .map(([head, bytes, tail]) => Buffer.concat([Buffer.from(head), Buffer.from(bytes), Buffer.from(tail)])),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('{"clientId":"a","clientSecret":"b"}', '{"username":"a","password":"b"}', '{}')
        .chain((json) =>
          fc.constantFrom(
            Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]),
            Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(json, 'utf16le')]),
            Buffer.from(json, 'utf16le'),
            Buffer.from(json, 'latin1'),
          ),
        ),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(bodyLimit - 1, bodyLimit, bodyLimit + 1, bodyLimit * 2)
        .map((size) => Buffer.alloc(size, '{')),
    },
  );
}

/** Content types: right, wrong, parameterised, garbage, or none at all. */
export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'application/json; charset=UTF-16LE',
      'application/json;charset=latin1',
      'application/json; charset="utf-8"; foo=bar',
      'APPLICATION/JSON',
      ' application/json ',
      'application/json, text/plain',
      'application/x-www-form-urlencoded',
      'application/x-www-form-urlencoded; charset=iso-8859-1',
      'Application/X-WWW-Form-Urlencoded',
      'text/plain',
      'text/plain; charset=utf-8',
      'text/html',
      'application/xml',
      'text/xml',
      'multipart/form-data; boundary=----x',
      'multipart/form-data',
      'application/octet-stream',
      'application/vnd.api+json',
      'application/merge-patch+json',
      'application/jwt',
      '*/*',
      '',
      ';',
      'json',
      'application/',
      '/json',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map(String.fromCharCode) }) },
  { weight: 2, arbitrary: fc.constant(undefined) },
);

// ─── headers ───

/** Characters Node accepts in a header value (no CR, LF or NUL): visible ASCII, space, tab and Latin-1. */
const headerValueChar = fc
  .oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
    { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
    { weight: 1, arbitrary: fc.constant(0x09) },
  )
  .map((code) => String.fromCharCode(code));
export const headerValue = fc.string({ unit: headerValueChar, maxLength: 60 });
const headerName = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);

// Set by the generators themselves, or by light-my-request (a forged length or chunked encoding would only test it).
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'content-type',
  'authorization',
  'transfer-encoding',
  'connection',
]);

/** Random extra headers, including ones the services read (request id, proxies, content length/encoding). */
export const extraHeaders: fc.Arbitrary<Record<string, string>> = fc
  .array(
    fc.oneof(
      fc.tuple(
        fc.constantFrom(
          'x-request-id',
          'x-forwarded-for',
          'x-forwarded-proto',
          'x-real-ip',
          'forwarded',
          'user-agent',
          'accept',
          'accept-encoding',
          'accept-charset',
          'content-encoding',
          'cookie',
          'origin',
          'referer',
          'expect',
          'if-none-match',
          'range',
          'accept-version',
          'x-http-method-override',
        ),
        fc.oneof(
          headerValue,
          fc.constantFrom('gzip', 'deflate, br', 'identity', '100-continue', '1.2.3.4, 5.6.7.8', 'unknown', 'PUT'),
          fc.integer({ min: 1000, max: 12_000 }).map((size) => 'x'.repeat(size)),
        ),
      ),
      fc.tuple(headerName, headerValue),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => Object.fromEntries(pairs.filter(([name]) => !RESERVED_HEADERS.has(name))));

/** `Authorization` values: absent, schemes in every case, junk credentials, JWT-shaped junk, huge values. */
export function authorization(tokens: readonly string[]): fc.Arbitrary<string | undefined> {
  const jwtShaped = fc
    .tuple(
      hostileJson(['alg', 'kid', 'typ', 'crit', 'jku', 'x5u']),
      hostileJson(['iss', 'aud', 'sub', 'exp', 'nbf', 'client_id', 'sid', 'jti']),
    )
    .map(([header, claims]) => {
      const part = (value: unknown) => Buffer.from(toJsonText(value)).toString('base64url');
      return `${part(header)}.${part(claims)}.${Buffer.from('sig').toString('base64url')}`;
    });
  const tokenLike = fc.oneof(
    { weight: 3, arbitrary: tokens.length ? fc.constantFrom(...tokens).chain(mutateToken) : fc.constant('x') },
    { weight: 2, arbitrary: jwtShaped },
    { weight: 2, arbitrary: fc.base64String({ maxLength: 80 }) },
    { weight: 2, arbitrary: headerValue },
    { weight: 1, arbitrary: fc.integer({ min: 8190, max: 12_000 }).map((size) => 'a'.repeat(size)) },
  );
  const basic = fc.oneof(
    fc.tuple(hostileString, hostileString).map(([id, secret]) => Buffer.from(`${id}:${secret}`).toString('base64')),
    fc.base64String({ maxLength: 60 }),
    headerValue,
  );
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    {
      weight: 5,
      arbitrary: fc
        .tuple(fc.constantFrom('Bearer ', 'bearer ', 'BEARER ', 'Bearer  ', 'Bearer\t', 'Bearer', 'Token '), tokenLike)
        .map(([scheme, token]) => `${scheme}${token}`),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.constantFrom('Basic ', 'basic ', 'BASIC  ', 'Basic'), basic).map(([s, c]) => `${s}${c}`),
    },
    { weight: 1, arbitrary: fc.oneof(headerValue, fc.constantFrom('', ' ', 'Digest a=b', 'Bearer ', 'Basic ')) },
  );
}

/** Small edits of a real token: each must make it invalid, or leave it exactly as valid as it was. */
export function mutateToken(token: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constant(token),
    fc.nat({ max: Math.max(0, token.length - 1) }).map((at) => token.slice(0, at)),
    fc
      .tuple(fc.nat({ max: Math.max(0, token.length - 1) }), fc.constantFrom('A', '_', '-', '.', '=', 'é', ' '))
      .map(([at, ch]) => `${token.slice(0, at)}${ch}${token.slice(at + 1)}`),
    fc.constantFrom(
      `${token}=`,
      `${token}==`,
      `${token}.`,
      `${token}.x`,
      `.${token}`,
      token.toUpperCase(),
      token.split('.').reverse().join('.'),
      token.split('.').slice(0, 2).join('.'),
      `${token.split('.').slice(0, 2).join('.')}.`,
      `${token} ${token}`,
    ),
  );
}

// ─── URLs ───

/** Query strings: parameters of any name and value, arrays, duplicates, bad escapes, very long ones. */
export const queryString: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .array(fc.tuple(hostileKey(['limit', 'cursor', 'token', 'a', 'a[]', 'a[b]']), hostileString), { maxLength: 4 })
      .map((pairs) => new URLSearchParams(pairs).toString()),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '%',
      '%ZZ',
      'a=%ED%A0%80',
      'a=%00',
      '%00=1',
      'a=1&a=2&a=3',
      'a[b][c][d]=1',
      'a[]=1&a[]=2',
      '__proto__[x]=1',
      'constructor[prototype][x]=1',
      '&&&',
      '=',
      '==',
      'a==b',
      '?',
      '#frag',
      'limit=0',
      'limit=201',
      'limit=-1',
      'limit=1e3',
      'limit=abc',
      'limit=1&limit=2',
      'cursor=',
      'cursor=%00',
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 2000, max: 9000 }).map((size) => `a=${'b'.repeat(size)}`) },
  { weight: 2, arbitrary: fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map(String.fromCharCode) }) },
);

/** A route's path, or variations of it: case, slashes, encodings, traversal, extra segments, bad escapes. */
export function pathVariant(path: string): fc.Arbitrary<string> {
  const encodeOne = (text: string) => text.replace(/[a-z]/, (ch) => `%${ch.charCodeAt(0).toString(16)}`);
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant(path) },
    {
      weight: 4,
      arbitrary: fc.constantFrom(
        `${path}/`,
        `${path}//`,
        `/${path}`,
        path.toUpperCase(),
        encodeOne(path),
        `${path}/..`,
        `${path}/../..${path}`,
        `${path}%2F`,
        `${path}%2e`,
        `${path}%00`,
        `${path}%ZZ`,
        `${path}%ED%A0%80`,
        `${path};a=b`,
        `${path}.json`,
        `${path}/x`,
        path.replaceAll('/', '\\'),
        path.replaceAll('/', '//'),
        `${path}\u00e9`,
        `${path}?`,
        `${path}#x`,
      ),
    },
    {
      weight: 2,
      arbitrary: fc
        .array(fc.string({ unit: hostileChar, maxLength: 10 }), { minLength: 1, maxLength: 3 })
        .map((segments) => `${path}/${segments.map(encodeURIComponentLoose).join('/')}`),
    },
  );
}

/** `encodeURIComponent`, except that lone surrogates (which it throws on) are written as their raw CESU bytes. */
export function encodeURIComponentLoose(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return [...text]
      .map((ch) => {
        try {
          return encodeURIComponent(ch);
        } catch {
          const code = ch.charCodeAt(0);
          return `%${(0xe0 | (code >> 12)).toString(16)}%${(0x80 | ((code >> 6) & 0x3f)).toString(16)}%${(0x80 | (code & 0x3f)).toString(16)}`.toUpperCase();
        }
      })
      .join('');
  }
}

export const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'PROPFIND', 'SEARCH'] as const;
export type Method = (typeof METHODS)[number];

// ─── requests and their checks ───

/** One generated request. */
export interface FuzzRequest {
  method: Method;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
}

/** A generated request with the headers that are `undefined` left out (and no payload when `payload` is). */
export function fuzzRequest(
  method: Method,
  url: string,
  headers: Record<string, string | undefined>,
  payload?: string | Buffer,
): FuzzRequest {
  const defined = Object.fromEntries(
    Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  return payload === undefined ? { method, url, headers: defined } : { method, url, headers: defined, payload };
}

/**
 * Raw bytes (invalid UTF-8, lone surrogates, NUL, BOMs, UTF-16, at the size limit) with any content type, sent to one
 * of `routes` with its own method or (one time in four) any method; GET and HEAD go without the body.
 */
export function rawBytesRequest(
  routes: readonly { method: Method; path: string }[],
  bodyLimit: number,
): fc.Arbitrary<FuzzRequest> {
  return fc
    .tuple(
      fc.constantFrom(...routes),
      fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(...METHODS) }),
      contentType,
      rawPayload(bodyLimit),
    )
    .map(([route, method, type, payload]) => {
      const chosen = method ?? route.method;
      // GET and HEAD cannot carry a body through light-my-request.
      const body = chosen === 'GET' || chosen === 'HEAD' ? undefined : payload;
      return fuzzRequest(chosen, route.path, { 'content-type': type }, body);
    });
}

/** Sends a generated request through `app.inject`. */
export function send(app: FastifyInstance, request: FuzzRequest): Promise<LightMyRequestResponse> {
  const options: InjectOptions = { method: request.method, url: request.url, headers: request.headers };
  if (request.payload !== undefined) options.payload = request.payload;
  return app.inject(options);
}

/** A short, printable description of a request for failure messages. */
export function describeRequest(request: FuzzRequest): string {
  const payload =
    request.payload === undefined
      ? '(no body)'
      : Buffer.isBuffer(request.payload)
        ? `<${request.payload.length} bytes> ${JSON.stringify(request.payload.subarray(0, 120).toString('latin1'))}`
        : `${JSON.stringify(request.payload.slice(0, 200))}${request.payload.length > 200 ? `… (${request.payload.length})` : ''}`;
  const headers = JSON.stringify(request.headers, (_key, value) =>
    typeof value === 'string' && value.length > 120 ? `${value.slice(0, 60)}…(${value.length})` : value,
  );
  return `${request.method} ${request.url.slice(0, 300)} headers=${headers} body=${payload}`;
}

/** Number of rows of every table of a PostgreSQL schema, in one query. */
export async function tableCounter(db: PrismaClient, schema: string): Promise<() => Promise<Record<string, number>>> {
  const tables = await db.$queryRawUnsafe<{ table_name: string }[]>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY 1`,
    schema,
  );
  if (tables.length === 0) throw new Error(`schema ${schema} has no tables`);
  const sql = `SELECT ${tables
    .map(({ table_name: name }) => `(SELECT count(*) FROM "${schema}"."${name}")::int AS "${name}"`)
    .join(', ')}`;
  return async () => {
    const [row] = await db.$queryRawUnsafe<Record<string, number>[]>(sql);
    if (!row) throw new Error('no counts');
    return row;
  };
}

/** How many rows each table gained (tables that did not grow are left out; shrinking is not growth). */
export function growth(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [table, count] of Object.entries(after)) {
    const grew = count - (before[table] ?? 0);
    if (grew > 0) delta[table] = grew;
  }
  return delta;
}

/** Problems of a growth against what is allowed: per table, the numbers of new rows allowed (0 when unlisted). */
export function growthProblems(delta: Record<string, number>, allowed: Record<string, readonly number[]>): string[] {
  const problems: string[] = [];
  for (const [table, grew] of Object.entries(delta)) {
    if (!(allowed[table] ?? [0]).includes(grew)) problems.push(`${table} +${grew}`);
  }
  for (const [table, counts] of Object.entries(allowed)) {
    if (!counts.includes(0) && !(table in delta)) problems.push(`${table} +0 (expected ${counts.join(' or ')})`);
  }
  return problems;
}

/** The environment of the hostile tests: limits out of the way, so every generated request reaches the routes. */
export const UNLIMITED = {
  RATE_LIMIT_GLOBAL_PER_MINUTE: '1000000',
  RATE_LIMIT_CREDENTIALS_PER_MINUTE: '1000000',
  RATE_LIMIT_VALIDATE_PER_TOKEN_PER_MINUTE: '1000000',
  // The highest the configuration accepts: no generated run fails that often with one id.
  BACKOFF_MAX_FAILURES: '1000',
};

/**
 * The path of a URL as the router receives it from `app.inject` (which normalizes it with WHATWG URL: backslashes,
 * dot segments) and decodes it, or undefined when its percent-escapes do not decode (what Fastify calls a bad URL).
 */
export function decodedPath(url: string): string | undefined {
  try {
    // The router keeps an encoded slash as part of a segment, never as a separator.
    return decodeURIComponent(new URL(url, 'http://localhost').pathname.replace(/%2F/gi, '%252F'));
  } catch {
    return undefined;
  }
}

const ENVELOPE_KEYS = new Set(['code', 'status', 'message', 'errors']);

/** Problems of an error envelope `{code: <status>, status: 'error', message, errors?}` (empty when exact). */
export function envelopeProblems(response: LightMyRequestResponse, extraKeys: Record<string, unknown> = {}): string[] {
  const problems: string[] = [];
  if (!/^application\/json/.test(String(response.headers['content-type']))) {
    problems.push(`content-type ${String(response.headers['content-type'])}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(response.body);
  } catch {
    return [...problems, `body is not JSON: ${response.body.slice(0, 200)}`];
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [...problems, 'body is not an object'];
  const record = body as Record<string, unknown>;
  if (record.code !== response.statusCode) problems.push(`code ${String(record.code)} ≠ ${response.statusCode}`);
  if (record.status !== 'error') problems.push(`status ${String(record.status)}`);
  if (typeof record.message !== 'string' || record.message === '') problems.push('message is not a non-empty string');
  if ('errors' in record) {
    if (!Array.isArray(record.errors) || record.errors.length === 0) problems.push('errors is not a non-empty list');
    else if (!record.errors.every((entry) => typeof entry === 'string')) problems.push('errors holds a non-string');
  }
  for (const key of Object.keys(record)) {
    if (ENVELOPE_KEYS.has(key)) continue;
    if (key in extraKeys) {
      if (record[key] !== extraKeys[key]) problems.push(`${key} is ${JSON.stringify(record[key])}`);
    } else problems.push(`unexpected member ${key}`);
  }
  for (const key of Object.keys(extraKeys)) if (!(key in record)) problems.push(`missing member ${key}`);
  return problems;
}

const OAUTH_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'unsupported_token_type',
  'temporarily_unavailable',
]);

/** Problems of an RFC 6749 §5.2 error body `{error, error_description?}` (empty when exact). */
export function oauthErrorProblems(response: LightMyRequestResponse): string[] {
  const problems: string[] = [];
  if (!/^application\/json/.test(String(response.headers['content-type']))) {
    problems.push(`content-type ${String(response.headers['content-type'])}`);
  }
  if (response.headers['cache-control'] !== 'no-store') problems.push('cache-control is not no-store');
  let body: unknown;
  try {
    body = JSON.parse(response.body);
  } catch {
    return [...problems, `body is not JSON: ${response.body.slice(0, 200)}`];
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [...problems, 'body is not an object'];
  const record = body as Record<string, unknown>;
  if (typeof record.error !== 'string' || !OAUTH_ERRORS.has(record.error)) {
    problems.push(`error ${JSON.stringify(record.error)}`);
  }
  if ('error_description' in record) {
    // RFC 6749 §5.2: %x20-21 / %x23-5B / %x5D-7E.
    if (
      typeof record.error_description !== 'string' ||
      !/^[\x20\x21\x23-\x5B\x5D-\x7E]*$/.test(record.error_description)
    ) {
      problems.push(`error_description ${JSON.stringify(record.error_description)}`);
    }
  }
  for (const key of Object.keys(record)) {
    if (key !== 'error' && key !== 'error_description') problems.push(`unexpected member ${key}`);
  }
  return problems;
}

/** Fastify's built-in answer to a URL it cannot decode or a path parameter over `maxParamLength`. */
export function isFastifyFrameworkError(response: LightMyRequestResponse): boolean {
  try {
    const body = JSON.parse(response.body) as Record<string, unknown>;
    return (
      (response.statusCode === 400 && body.code === 'FST_ERR_BAD_URL') ||
      (response.statusCode === 414 && body.code === 'FST_ERR_MAX_PARAM_LENGTH')
    );
  } catch {
    return false;
  }
}

/** Counts how often each named known bug was hit by a property, to print after the run. */
export class KnownBugTally {
  readonly hits = new Map<string, number>();
  hit(name: string): void {
    this.hits.set(name, (this.hits.get(name) ?? 0) + 1);
  }
  toString(): string {
    return [...this.hits].map(([name, count]) => `${name}: ${count}`).join(', ') || 'none';
  }
}
