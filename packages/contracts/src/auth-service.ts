import { type Static, Type } from 'typebox';
import { ErrorEnvelope } from './envelope.js';

// Field names are snake_case, as in the auth-service specification.

/** What a client says about the device: a flat-ish JSON object, size-limited by the service. */
export const DeviceInfo = Type.Record(Type.String(), Type.Unknown(), {
  maxProperties: 32,
  // A record's key schema compiles to patternProperties, which cannot bound key length; propertyNames does.
  propertyNames: { maxLength: 64 },
  description: 'Client-supplied description of the device (JSON object, at most 32 keys and 4 KiB)',
  examples: [{ platform: 'web', browser: 'Firefox 140', os: 'Linux' }],
});
export type DeviceInfo = Static<typeof DeviceInfo>;

// Long enough for any passphrase (the issue asks for at least 128 characters), short enough that nothing huge is
// ever hashed.
const Password = Type.String({ minLength: 1, maxLength: 1024 });
const Identifier = Type.String({ minLength: 1, maxLength: 320 });

/** `POST /auth/verify`: the user's username or email, and password. */
export const VerifyRequest = Type.Object(
  {
    username: Type.Optional(Identifier),
    email: Type.Optional(Identifier),
    password: Password,
  },
  {
    $id: 'VerifyRequest',
    additionalProperties: false,
    examples: [{ username: 'jdoe', password: 'correct horse battery staple' }],
  },
);
export type VerifyRequest = Static<typeof VerifyRequest>;

export const VerifyResponse = Type.Object(
  {
    user_id: Type.String(),
    status: Type.Literal('success'),
    validated_by: Type.Literal('credentials'),
  },
  {
    $id: 'VerifyResponse',
    additionalProperties: false,
    examples: [{ user_id: 'ObjectID', status: 'success', validated_by: 'credentials' }],
  },
);
export type VerifyResponse = Static<typeof VerifyResponse>;

/** `POST /auth/login`. */
export const LoginRequest = Type.Object(
  {
    username: Type.Optional(Identifier),
    email: Type.Optional(Identifier),
    password: Password,
    application_id: Type.String({ minLength: 1, maxLength: 200 }),
    device_info: Type.Optional(DeviceInfo),
  },
  {
    $id: 'LoginRequest',
    additionalProperties: false,
    examples: [
      {
        email: 'jdoe@example.com',
        password: 'correct horse battery staple',
        application_id: 'app-uuid',
        device_info: { platform: 'web', browser: 'Firefox 140' },
      },
    ],
  },
);
export type LoginRequest = Static<typeof LoginRequest>;

export const LoginResponse = Type.Object(
  {
    access_token: Type.String(),
    refresh_token: Type.String(),
    session_id: Type.String(),
    expires_at: Type.String({ format: 'date-time', description: "The access token's expiry (ISO-8601 UTC)" }),
    token_type: Type.Literal('Bearer'),
    expires_in: Type.Integer(),
  },
  {
    $id: 'LoginResponse',
    additionalProperties: false,
    examples: [
      {
        access_token: 'JWT...',
        refresh_token: 'JWT...',
        session_id: 'abc123',
        expires_at: '2025-08-01T12:00:00Z',
        token_type: 'Bearer',
        expires_in: 900,
      },
    ],
  },
);
export type LoginResponse = Static<typeof LoginResponse>;

/** `POST /auth/logout` and the session-closing routes. */
export const MessageResponse = Type.Object(
  { message: Type.String(), revoked_count: Type.Optional(Type.Integer()) },
  {
    $id: 'MessageResponse',
    additionalProperties: false,
    examples: [{ message: 'Session and tokens revoked successfully' }],
  },
);
export type MessageResponse = Static<typeof MessageResponse>;

/** `POST /auth/token/refresh`. */
export const RefreshRequest = Type.Object(
  // Long enough for anything token-like (an access token sent here by mistake must be a 401, not a 400).
  { refresh_token: Type.String({ minLength: 1, maxLength: 8192 }) },
  {
    $id: 'RefreshRequest',
    additionalProperties: false,
    examples: [{ refresh_token: 'JWT...' }],
  },
);
export type RefreshRequest = Static<typeof RefreshRequest>;

export const RefreshResponse = Type.Object(
  {
    access_token: Type.String(),
    expires_at: Type.String({ format: 'date-time' }),
    refresh_token: Type.Optional(
      Type.String({ description: 'The next refresh token, when the application rotates them' }),
    ),
    token_type: Type.Literal('Bearer'),
    expires_in: Type.Integer(),
  },
  {
    $id: 'RefreshResponse',
    additionalProperties: false,
    examples: [
      { access_token: 'nuevo_token', expires_at: '2025-08-01T12:00:00Z', token_type: 'Bearer', expires_in: 900 },
    ],
  },
);
export type RefreshResponse = Static<typeof RefreshResponse>;

/** `POST /auth/token/validate` 200. */
export const ValidateResponse = Type.Object(
  {
    valid: Type.Literal(true),
    user_id: Type.String(),
    application_id: Type.String(),
    session_id: Type.String(),
    exp: Type.Integer(),
  },
  {
    $id: 'ValidateResponse',
    additionalProperties: false,
    examples: [{ valid: true, user_id: 'ObjectID', application_id: 'app-uuid', session_id: 'abc123', exp: 1754049600 }],
  },
);
export type ValidateResponse = Static<typeof ValidateResponse>;

/** `POST /auth/token/validate` 401: the error envelope with `valid: false`. */
export const ValidateErrorResponse = Type.Object(
  { ...ErrorEnvelope.properties, valid: Type.Literal(false) },
  {
    $id: 'ValidateErrorResponse',
    additionalProperties: false,
    examples: [{ code: 401, status: 'error', message: 'Token de acceso inválido o ausente', valid: false }],
  },
);
export type ValidateErrorResponse = Static<typeof ValidateErrorResponse>;

/** `GET /auth/session/me`. */
export const CurrentSessionResponse = Type.Object(
  {
    user_id: Type.String(),
    session_id: Type.String(),
    application_id: Type.String(),
    device_info: Type.Union([DeviceInfo, Type.Null()]),
    created_at: Type.String({ format: 'date-time' }),
    last_seen_at: Type.String({ format: 'date-time' }),
    expires_at: Type.String({ format: 'date-time', description: 'When the session ends without activity' }),
  },
  {
    $id: 'CurrentSessionResponse',
    additionalProperties: false,
    examples: [
      {
        user_id: 'ObjectID',
        session_id: 'abc123',
        application_id: 'app-uuid',
        device_info: { platform: 'web' },
        created_at: '2025-07-21T13:00:00Z',
        last_seen_at: '2025-07-21T13:05:00Z',
        expires_at: '2025-08-20T13:05:00Z',
      },
    ],
  },
);
export type CurrentSessionResponse = Static<typeof CurrentSessionResponse>;

const sessionSummaryExample = {
  session_id: 'abc123',
  created_at: '2025-07-21T13:00:00Z',
  device_info: { platform: 'web' },
  last_seen_at: '2025-07-21T13:05:00Z',
  ip: '203.0.113.7',
  user_agent: 'Mozilla/5.0',
  application_id: 'app-uuid',
  current: true,
};

export const SessionSummary = Type.Object(
  {
    session_id: Type.String(),
    created_at: Type.String({ format: 'date-time' }),
    device_info: Type.Union([DeviceInfo, Type.Null()]),
    last_seen_at: Type.String({ format: 'date-time' }),
    ip: Type.Union([Type.String(), Type.Null()]),
    user_agent: Type.Union([Type.String(), Type.Null()]),
    application_id: Type.String(),
    current: Type.Boolean(),
  },
  {
    $id: 'SessionSummary',
    additionalProperties: false,
    examples: [sessionSummaryExample],
  },
);
export type SessionSummary = Static<typeof SessionSummary>;

/** `GET /auth/sessions`: the user's active sessions, newest first. */
export const SessionListResponse = Type.Array(SessionSummary, {
  $id: 'SessionListResponse',
  examples: [[sessionSummaryExample]],
});
export type SessionListResponse = Static<typeof SessionListResponse>;

export const SessionIdParams = Type.Object(
  { session_id: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);
export type SessionIdParams = Static<typeof SessionIdParams>;

/** `POST /auth/attempts`: an attempt reported by a client (recorded as `reported`, apart from observed ones). */
export const AttemptRequest = Type.Object(
  {
    identifier: Type.Optional(Type.String({ minLength: 1, maxLength: 320 })),
    method: Type.Union([Type.Literal('credentials'), Type.Literal('token')]),
    success: Type.Boolean(),
    application_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    device_info: Type.Optional(DeviceInfo),
  },
  {
    $id: 'AttemptRequest',
    additionalProperties: false,
    examples: [
      {
        identifier: 'jdoe',
        method: 'credentials',
        success: false,
        application_id: 'app-uuid',
        reason: 'wrong_password',
      },
    ],
  },
);
export type AttemptRequest = Static<typeof AttemptRequest>;

export const AttemptResponse = Type.Object(
  { id: Type.String(), recorded: Type.Literal(true) },
  {
    $id: 'AttemptResponse',
    additionalProperties: false,
    examples: [{ id: '0198a1fc-e7e3-72de-824c-9c8c2f961160', recorded: true }],
  },
);
export type AttemptResponse = Static<typeof AttemptResponse>;

/** `GET /auth/logs` query: page size and the cursor of the next page (from the `X-Next-Cursor` header). */
export const LogsQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type LogsQuery = Static<typeof LogsQuery>;

const logEntryExample = {
  action: 'login',
  success: true,
  timestamp: '2025-07-21T13:00:00Z',
  application_id: 'app-uuid',
  device_info: { platform: 'web' },
  session_id: 'abc123',
  ip: '203.0.113.7',
};

export const LogEntry = Type.Object(
  {
    action: Type.String({ examples: ['login'] }),
    success: Type.Boolean(),
    timestamp: Type.String({ format: 'date-time' }),
    application_id: Type.Union([Type.String(), Type.Null()]),
    device_info: Type.Union([DeviceInfo, Type.Null()]),
    session_id: Type.Union([Type.String(), Type.Null()]),
    ip: Type.Union([Type.String(), Type.Null()]),
  },
  {
    $id: 'LogEntry',
    additionalProperties: false,
    examples: [logEntryExample],
  },
);
export type LogEntry = Static<typeof LogEntry>;

/** `GET /auth/logs`: the current user's entries, newest first. */
export const LogListResponse = Type.Array(LogEntry, { $id: 'LogListResponse', examples: [[logEntryExample]] });
export type LogListResponse = Static<typeof LogListResponse>;
