export {
  AttemptRequest,
  AttemptResponse,
  CurrentSessionResponse,
  DeviceInfo,
  LogEntry,
  LoginRequest,
  LoginResponse,
  LogListResponse,
  LogsQuery,
  MessageResponse,
  RefreshRequest,
  RefreshResponse,
  SessionIdParams,
  SessionListResponse,
  SessionSummary,
  ValidateErrorResponse,
  ValidateResponse,
  VerifyRequest,
  VerifyResponse,
} from './auth-service.js';
export { ErrorEnvelope, SuccessEnvelope } from './envelope.js';
export { ErrorCatalog, type ErrorCode } from './errors.js';
export { HealthResponse } from './health.js';
export { JwksResponse, PublicJwk } from './jwks.js';
export {
  AuthorizationServerMetadata,
  IntrospectionResponse,
  OAuthErrorResponse,
  OAuthTokenOperationRequest,
  OAuthTokenRequest,
  OAuthTokenResponse,
  TokenData,
  TokenInfoData,
  TokenInfoResponse,
  TokenRequest,
  TokenResponse,
  UtcDateTimeToSecond,
} from './otherclient.js';
