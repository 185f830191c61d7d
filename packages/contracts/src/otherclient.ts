import { type Static, Type } from 'typebox';
import { SuccessEnvelope } from './envelope.js';

// ─── POST /api/auth/token (the OtherClient specification) ───

/** `POST /api/auth/token` body: both fields required, non-empty strings; nothing else is accepted. */
export const TokenRequest = Type.Object(
  {
    clientId: Type.String({ minLength: 1, maxLength: 200, examples: ['f2ffebd1-77eb-49d2-a623-99824b1f485d'] }),
    clientSecret: Type.String({ minLength: 1, maxLength: 200, examples: ['c0f2afed-edc3-4cec-8af0-ef58fcb50062'] }),
  },
  {
    $id: 'TokenRequest',
    additionalProperties: false,
    examples: [
      { clientId: 'f2ffebd1-77eb-49d2-a623-99824b1f485d', clientSecret: 'c0f2afed-edc3-4cec-8af0-ef58fcb50062' },
    ],
  },
);
export type TokenRequest = Static<typeof TokenRequest>;

/** `YYYY-MM-DD HH:mm:ss` in UTC, as the specification's `expire_in`. */
export const UtcDateTimeToSecond = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}$',
  examples: ['2025-09-19 23:59:59'],
});

export const TokenData = Type.Object(
  {
    token: Type.String({ description: 'JWT access token (RFC 9068)', examples: ['eyJhbGciOiJFUzI1NiIs...'] }),
    expire_in: UtcDateTimeToSecond,
    token_type: Type.Literal('Bearer'),
    expires_in: Type.Integer({ description: 'Seconds until expiry', examples: [3600] }),
    scope: Type.Optional(Type.String({ description: 'Space-separated scopes granted', examples: ['orders:read'] })),
  },
  { additionalProperties: false },
);
export type TokenData = Static<typeof TokenData>;

/** `POST /api/auth/token` 200: `{code: 200, status: "success", message: "Token generado exitosamente", data}`. */
export const TokenResponse = SuccessEnvelope(TokenData, {
  message: 'Token generado exitosamente',
  data: {
    token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...',
    expire_in: '2025-09-19 23:59:59',
    token_type: 'Bearer',
    expires_in: 3600,
  },
});
export type TokenResponse = Static<typeof TokenResponse>;

// ─── GET /api/auth/token/info ───

export const TokenInfoData = Type.Object(
  {
    client_id: Type.String(),
    client_name: Type.String(),
    scopes: Type.Array(Type.String()),
    audience: Type.Union([Type.String(), Type.Array(Type.String())]),
    issuer: Type.String(),
    jti: Type.String(),
    issued_at: Type.String({ format: 'date-time' }),
    expire_in: UtcDateTimeToSecond,
    expires_in: Type.Integer({ description: 'Seconds left' }),
  },
  { additionalProperties: false },
);
export type TokenInfoData = Static<typeof TokenInfoData>;

/** `GET /api/auth/token/info` 200: what the presented token grants and for how long. */
export const TokenInfoResponse = SuccessEnvelope(TokenInfoData, {
  message: 'Token válido',
  data: {
    client_id: 'f2ffebd1-77eb-49d2-a623-99824b1f485d',
    client_name: 'Integrator',
    scopes: ['orders:read'],
    audience: 'api',
    issuer: 'https://auth.example.com',
    jti: '0198a1fc-e7e3-72de-824c-9c8c2f961160',
    issued_at: '2025-09-19T22:59:59.000Z',
    expire_in: '2025-09-19 23:59:59',
    expires_in: 3600,
  },
});
export type TokenInfoResponse = Static<typeof TokenInfoResponse>;

// ─── OAuth 2.0 (RFC 6749, 7662, 7009, 8414) ───

/** RFC 6749 §5.2 error body. */
export const OAuthErrorResponse = Type.Object(
  {
    error: Type.String({ examples: ['invalid_client'] }),
    error_description: Type.Optional(Type.String()),
  },
  {
    $id: 'OAuthErrorResponse',
    additionalProperties: false,
    examples: [{ error: 'invalid_client', error_description: 'Client authentication failed' }],
  },
);
export type OAuthErrorResponse = Static<typeof OAuthErrorResponse>;

// Form fields arrive as text; lengths are bounded so nothing large reaches the hashing or the database.
const FormText = (maxLength: number) => Type.String({ maxLength });

/** `POST /oauth/token` form (`application/x-www-form-urlencoded`). */
export const OAuthTokenRequest = Type.Object(
  {
    grant_type: FormText(100),
    scope: Type.Optional(FormText(2000)),
    client_id: Type.Optional(FormText(200)),
    client_secret: Type.Optional(FormText(200)),
  },
  {
    $id: 'OAuthTokenRequest',
    additionalProperties: false,
    examples: [{ grant_type: 'client_credentials', scope: 'orders:read' }],
  },
);
export type OAuthTokenRequest = Static<typeof OAuthTokenRequest>;

/** RFC 6749 §5.1 success body. */
export const OAuthTokenResponse = Type.Object(
  {
    access_token: Type.String(),
    token_type: Type.Literal('Bearer'),
    expires_in: Type.Integer(),
    scope: Type.Optional(Type.String()),
  },
  {
    $id: 'OAuthTokenResponse',
    additionalProperties: false,
    examples: [
      { access_token: 'eyJhbGciOiJFUzI1NiIs...', token_type: 'Bearer', expires_in: 3600, scope: 'orders:read' },
    ],
  },
);
export type OAuthTokenResponse = Static<typeof OAuthTokenResponse>;

/** `POST /oauth/introspect` (RFC 7662) and `POST /oauth/revoke` (RFC 7009) form. */
export const OAuthTokenOperationRequest = Type.Object(
  {
    token: FormText(8192),
    token_type_hint: Type.Optional(FormText(100)),
    client_id: Type.Optional(FormText(200)),
    client_secret: Type.Optional(FormText(200)),
  },
  {
    $id: 'OAuthTokenOperationRequest',
    additionalProperties: false,
    examples: [{ token: 'eyJhbGciOiJFUzI1NiIs...', token_type_hint: 'access_token' }],
  },
);
export type OAuthTokenOperationRequest = Static<typeof OAuthTokenOperationRequest>;

/** RFC 7662 §2.2: `{active: false}` or the token's claims. */
export const IntrospectionResponse = Type.Object(
  {
    active: Type.Boolean(),
    scope: Type.Optional(Type.String()),
    client_id: Type.Optional(Type.String()),
    token_type: Type.Optional(Type.Literal('Bearer')),
    exp: Type.Optional(Type.Integer()),
    iat: Type.Optional(Type.Integer()),
    sub: Type.Optional(Type.String()),
    aud: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
    iss: Type.Optional(Type.String()),
    jti: Type.Optional(Type.String()),
  },
  {
    $id: 'IntrospectionResponse',
    additionalProperties: false,
    examples: [
      {
        active: true,
        scope: 'orders:read',
        client_id: 'f2ffebd1-77eb-49d2-a623-99824b1f485d',
        token_type: 'Bearer',
        exp: 1758326399,
        iat: 1758322799,
        sub: 'f2ffebd1-77eb-49d2-a623-99824b1f485d',
        aud: 'api',
        iss: 'https://auth.example.com',
        jti: '0198a1fc-e7e3-72de-824c-9c8c2f961160',
      },
      { active: false },
    ],
  },
);
export type IntrospectionResponse = Static<typeof IntrospectionResponse>;

/** `GET /.well-known/oauth-authorization-server` (RFC 8414). */
export const AuthorizationServerMetadata = Type.Object(
  {
    issuer: Type.String(),
    token_endpoint: Type.String(),
    jwks_uri: Type.String(),
    introspection_endpoint: Type.String(),
    revocation_endpoint: Type.String(),
    grant_types_supported: Type.Array(Type.String()),
    response_types_supported: Type.Array(Type.String()),
    token_endpoint_auth_methods_supported: Type.Array(Type.String()),
    introspection_endpoint_auth_methods_supported: Type.Array(Type.String()),
    revocation_endpoint_auth_methods_supported: Type.Array(Type.String()),
    scopes_supported: Type.Optional(Type.Array(Type.String())),
  },
  {
    $id: 'AuthorizationServerMetadata',
    additionalProperties: false,
    examples: [
      {
        issuer: 'https://auth.example.com',
        token_endpoint: 'https://auth.example.com/oauth/token',
        jwks_uri: 'https://auth.example.com/.well-known/jwks.json',
        introspection_endpoint: 'https://auth.example.com/oauth/introspect',
        revocation_endpoint: 'https://auth.example.com/oauth/revoke',
        grant_types_supported: ['client_credentials'],
        response_types_supported: [],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      },
    ],
  },
);
export type AuthorizationServerMetadata = Static<typeof AuthorizationServerMetadata>;
