// The two journeys the product exists for, as a client sees them through the ingress: an integrator trading its
// credentials for tokens (otherclient), and a user's SSO session from login to logout (auth-service). Each step checks
// its answer and throws a FlowStepError naming the step and the request, so that a failure in a loop of flows can be
// matched with nginx's access log and the services' request lines.
import type { HttpClient, HttpResponse, RequestOptions } from './http.js';
import { basicAuthorization, newRequestId } from './http.js';
import type { Account } from './stack.js';

export type Json = Record<string, unknown>;

export class FlowStepError extends Error {
  /** When the failed answer (or the transport error) came, on the `performance.now()` clock. */
  readonly at = performance.now();

  constructor(
    readonly step: string,
    readonly requestId: string,
    readonly status: number | undefined,
    detail: string,
  ) {
    super(`${step}: ${detail}`);
    this.name = 'FlowStepError';
  }
}

/**
 * Sends one step's request and checks its status (and body, with `check`); the parsed body on success. A request
 * that fails below HTTP (connection reset, timeout) is a failed step too.
 */
export async function step(
  client: HttpClient,
  name: string,
  path: string,
  options: RequestOptions,
  expectedStatus: number,
  check: (body: Json) => boolean = () => true,
): Promise<{ body: Json; response: HttpResponse }> {
  const requestId = options.requestId ?? newRequestId();
  let response: HttpResponse;
  try {
    response = await client.send(path, { ...options, requestId });
  } catch (error) {
    throw new FlowStepError(name, requestId, undefined, (error as Error).message);
  }
  const body = (response.json ?? {}) as Json;
  if (response.status !== expectedStatus || !check(body)) {
    throw new FlowStepError(
      name,
      response.requestId,
      response.status,
      `expected ${expectedStatus}, got ${response.status} ${response.text.replace(/\s+/g, ' ').slice(0, 300)} (request id ${response.requestId})`,
    );
  }
  return { body, response };
}

const isString = (value: unknown): value is string => typeof value === 'string' && value.length > 0;
/** `expire_in` of the specification: a UTC date-time to the second, `YYYY-MM-DD HH:mm:ss`. */
const EXPIRE_IN = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

export interface IntegratorTokens {
  /** From `POST /api/auth/token`, the specification's endpoint. */
  apiToken: string;
  /** From `POST /oauth/token`, the standard client-credentials grant. */
  oauthToken: string;
}

/**
 * An integrator: a token from `POST /api/auth/token`, read back with `GET /api/auth/token/info`, then the OAuth 2.0
 * route to the same thing (client_credentials grant, introspection).
 */
export async function integratorFlow(
  client: HttpClient,
  credentials: { clientId: string; clientSecret: string },
): Promise<IntegratorTokens> {
  const { body: issued } = await step(
    client,
    'POST /api/auth/token',
    '/api/auth/token',
    { json: credentials },
    200,
    (body) => {
      const data = body.data as Json | undefined;
      return (
        body.code === 200 &&
        body.status === 'success' &&
        body.message === 'Token generado exitosamente' &&
        isString(data?.token) &&
        EXPIRE_IN.test(String(data?.expire_in))
      );
    },
  );
  const apiToken = String((issued.data as Json).token);
  await step(
    client,
    'GET /api/auth/token/info',
    '/api/auth/token/info',
    { bearer: apiToken },
    200,
    (body) => (body.data as Json | undefined)?.client_id === credentials.clientId,
  );

  const basic = { authorization: basicAuthorization(credentials.clientId, credentials.clientSecret) };
  const { body: granted } = await step(
    client,
    'POST /oauth/token',
    '/oauth/token',
    { headers: basic, form: { grant_type: 'client_credentials' } },
    200,
    (body) => isString(body.access_token) && body.token_type === 'Bearer',
  );
  const oauthToken = String(granted.access_token);
  await step(
    client,
    'POST /oauth/introspect',
    '/oauth/introspect',
    { headers: basic, form: { token: oauthToken } },
    200,
    (body) => body.active === true && body.client_id === credentials.clientId,
  );
  return { apiToken, oauthToken };
}

export interface Session {
  access_token: string;
  refresh_token: string;
  session_id: string;
}

export function login(
  client: HttpClient,
  account: Account,
  applicationId: string,
  extra: Pick<RequestOptions, 'headers' | 'localAddress' | 'requestId'> = {},
): Promise<Session> {
  return step(
    client,
    'POST /auth/login',
    '/auth/login',
    {
      ...extra,
      json: {
        username: account.username,
        password: account.password,
        application_id: applicationId,
        device_info: { device: 'e2e', platform: 'node' },
      },
    },
    200,
    (body) => isString(body.access_token) && isString(body.refresh_token) && isString(body.session_id),
  ).then(({ body }) => body as unknown as Session);
}

export function validate(client: HttpClient, accessToken: string, expectedStatus = 200) {
  return step(
    client,
    'POST /auth/token/validate',
    '/auth/token/validate',
    { method: 'POST', bearer: accessToken },
    expectedStatus,
    (body) => (expectedStatus === 200 ? body.valid === true : body.valid === false),
  );
}

/**
 * A user's session end to end, the short form run in loops: login, validate, refresh (rotating the refresh token),
 * validate the new access token, logout. Consecutive requests go to alternating instances through nginx's round
 * robin, so every step also relies on what the previous one did on the other instance.
 */
export async function ssoFlow(client: HttpClient, account: Account, applicationId: string): Promise<void> {
  const session = await login(client, account, applicationId);
  await validate(client, session.access_token);
  const { body: refreshed } = await step(
    client,
    'POST /auth/token/refresh',
    '/auth/token/refresh',
    { json: { refresh_token: session.refresh_token } },
    200,
    (body) =>
      isString(body.access_token) && isString(body.refresh_token) && body.refresh_token !== session.refresh_token,
  );
  const accessToken = String(refreshed.access_token);
  await validate(client, accessToken);
  await step(
    client,
    'POST /auth/logout',
    '/auth/logout',
    { method: 'POST', bearer: accessToken },
    200,
    (body) => body.message === 'Session and tokens revoked successfully',
  );
}
