// The test's HTTP client: node:http rather than fetch, because it can choose the local address a request comes from
// (the ingress must report that address to the services, see the X-Forwarded-For check) and it exposes every header
// as received (repeated X-Request-Id headers included). Every request carries a fresh X-Request-Id, so that nginx's
// access-log line and the service's request line of any request can be found again.
import { randomBytes } from 'node:crypto';
import { Agent, type IncomingHttpHeaders, request } from 'node:http';

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Header values as received, in order, e.g. to count how many `X-Request-Id` lines came back. */
  rawHeaders: readonly string[];
  text: string;
  /** The X-Request-Id the request was sent with. */
  requestId: string;
  /** The body parsed as JSON; `undefined` when it is not JSON. */
  json: unknown;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** JSON-encoded with `content-type: application/json`. */
  json?: unknown;
  /** Form-encoded with `content-type: application/x-www-form-urlencoded`. */
  form?: Record<string, string>;
  /** Bearer token for `Authorization`. */
  bearer?: string;
  /** Sent as is instead of a generated id (a header value nginx must pass through or replace). */
  requestId?: string;
  /** The local address to connect from (any 127.0.0.0/8 address on loopback). */
  localAddress?: string;
}

let sequence = 0;
/** An id nginx passes through unchanged (1-128 characters of `[A-Za-z0-9._:-]`), unique in this run. */
export function newRequestId(): string {
  sequence += 1;
  return `e2e-${process.pid}-${sequence}-${randomBytes(4).toString('hex')}`;
}

export class HttpClient {
  // Keep-alive towards nginx, as a gateway or SDK would; nginx itself opens a new connection to a service per request.
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 16 });

  constructor(readonly baseUrl: string) {}

  send(path: string, options: RequestOptions = {}): Promise<HttpResponse> {
    const requestId = options.requestId ?? newRequestId();
    const headers: Record<string, string> = { 'x-request-id': requestId, ...options.headers };
    let body: string | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = 'application/json';
    } else if (options.form !== undefined) {
      body = new URLSearchParams(options.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    if (options.bearer !== undefined) headers.authorization = `Bearer ${options.bearer}`;
    const method = options.method ?? (body === undefined ? 'GET' : 'POST');
    // A POST without a body (logout, validate) says so: without a length Node would send it chunked.
    if (method !== 'GET' && method !== 'HEAD') headers['content-length'] = String(Buffer.byteLength(body ?? ''));
    // An agent is bound to no local address: requests from another address go on connections of their own.
    const agent = options.localAddress === undefined ? this.agent : false;

    return new Promise((resolve, reject) => {
      const req = request(
        `${this.baseUrl}${path}`,
        { method, headers, agent, localAddress: options.localAddress, timeout: 15_000 },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('error', reject);
          res.on('end', () => {
            let json: unknown;
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              rawHeaders: res.rawHeaders,
              text,
              requestId,
              json,
            });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer after 15 s`)));
      req.on('error', (error) => reject(new Error(`${method} ${path} (request id ${requestId}): ${error.message}`)));
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** `Authorization` of `client_secret_basic`: id and secret form-urlencoded, then base64 (RFC 6749 §2.3.1). */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replaceAll('%20', '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}
