// One-off requests of the harness (probes before a load, the revocation check), never the measured load itself.

export type Json = Record<string, unknown>;

export const JSON_HEADERS = { 'content-type': 'application/json' };
export const FORM_HEADERS = { 'content-type': 'application/x-www-form-urlencoded' };

/** `Authorization` of `client_secret_basic`: id and secret form-urlencoded, then base64 (RFC 6749 §2.3.1). */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replaceAll('%20', '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

export function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

export async function call(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: Json }> {
  const response = await fetch(url, { method: 'POST', ...init });
  const text = await response.text();
  let body: Json;
  try {
    body = JSON.parse(text) as Json;
  } catch {
    body = { text };
  }
  return { status: response.status, body };
}

/**
 * A probe before a load: the request the load will repeat must succeed with the expected body first, so that a
 * misconfigured scenario fails loudly instead of measuring how fast errors come back.
 */
export async function probe(
  what: string,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string },
  check: (body: Json) => boolean,
): Promise<Json> {
  const { status, body } = await call(url, init);
  if (status !== 200 || !check(body)) {
    throw new Error(`${what}: expected 200 with the right body, got ${status} ${JSON.stringify(body).slice(0, 300)}`);
  }
  return body;
}

/** The decoded header of a compact JWS (to check that tokens are what the scenario claims: ES256, at+jwt). */
export function jwtHeader(token: unknown): Json {
  if (typeof token !== 'string') return {};
  try {
    return JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as Json;
  } catch {
    return {};
  }
}

/**
 * Sends one request per item, `concurrency` at a time, and fails on any answer but 200: brings a service to its steady
 * state (caches holding every item) before a measurement, so the measured window is not partly a cold start.
 */
export async function primeEach<T>(
  items: readonly T[],
  concurrency: number,
  request: (item: T) => { url: string; init: { method?: string; headers?: Record<string, string>; body?: string } },
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      const { url, init } = request(item);
      const { status, body } = await call(url, init);
      if (status !== 200) throw new Error(`priming ${url}: ${status} ${JSON.stringify(body).slice(0, 200)}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
