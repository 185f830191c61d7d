import type { ApiClient, PrismaClient } from '@mxp/db';
import {
  decodeUnverifiedClaims,
  JwtCoreError,
  type KeySet,
  keySetAlgorithms,
  signJwt,
  type VerifiedClaims,
  type VerifiedTokenCache,
  verifyJwt,
} from '@mxp/jwt-core';
import { findClient, LOOKUPABLE_CLIENT_ID } from './client-authentication.js';
import type { ClientCache } from './client-cache.js';
import type { RevocationCache } from './revocation-cache.js';

/** Where issued tokens come from and whom they are for when a client has no audience of its own. */
export interface AccessTokenSettings {
  issuer: string;
  defaultAudience: string;
}

/** RFC 9068 `typ` of JWT access tokens. */
export const ACCESS_TOKEN_TYPE = 'at+jwt';

export interface IssuedAccessToken {
  token: string;
  jti: string;
  issuedAt: Date;
  expiresAt: Date;
  expiresIn: number;
  /** Space-separated granted scopes ('' when none). */
  scope: string;
}

/** Signs an RFC 9068 access token for `client` with the given scopes and the client's audience and lifetime. */
export async function issueAccessToken(
  keySet: KeySet,
  client: Pick<ApiClient, 'id' | 'audience' | 'tokenTtlSeconds'>,
  scopes: readonly string[],
  settings: AccessTokenSettings,
  now: Date = new Date(),
): Promise<IssuedAccessToken> {
  const scope = scopes.join(' ');
  const { token, claims } = await signJwt(keySet, scope ? { client_id: client.id, scope } : { client_id: client.id }, {
    typ: ACCESS_TOKEN_TYPE,
    issuer: settings.issuer,
    audience: client.audience ?? settings.defaultAudience,
    subject: client.id,
    expiresInSeconds: client.tokenTtlSeconds,
    now,
  });
  return {
    token,
    jti: claims.jti,
    issuedAt: new Date(claims.iat * 1000),
    expiresAt: new Date(claims.exp * 1000),
    expiresIn: claims.exp - claims.iat,
    scope,
  };
}

/** The claims of an access token this service verified. */
export type AccessTokenClaims = VerifiedClaims & { jti: string; iat: number; client_id: string };

export type TokenInspection =
  | { active: true; claims: AccessTokenClaims; client: ApiClient; scopes: string[] }
  | { active: false; reason: 'malformed' | 'unknown_client' | 'invalid' | 'expired' | 'revoked' | 'client_disabled' };

/** What inspecting a token reads: the database, this service's keys and settings, and this replica's caches. */
export interface TokenInspectionContext {
  db: PrismaClient;
  keySet: KeySet;
  settings: AccessTokenSettings;
  /** The owning clients, as token issuance reads them. */
  clients: ClientCache;
  /** Tokens verified before (VERIFIED_TOKEN_CACHE_MAX_ENTRIES): a token presented again skips its signature check. */
  verifiedTokens: VerifiedTokenCache<AccessTokenClaims>;
  /** Which tokens were revoked, kept exact by notifications. */
  revocations: RevocationCache;
}

/**
 * Whether a token this service issued is still good: signature, issuer, type, the owning client's audience, expiry,
 * not revoked (RFC 7009) and its client not disabled.
 *
 * The owning client comes from `clients` when it holds it (active and unchanged as of the last notification, as token
 * issuance trusts it), else from the database. A token verified before skips its signature check until its `exp`
 * (the keys are fixed for the process's life); its client's current audience is checked again every time, since an
 * administrator may change it. Revocation comes from `revocations`: a revocation made by this process counts at once,
 * one made on another replica once its notification arrives (milliseconds; at most the change feed's staleness bound,
 * 3 s).
 */
export async function inspectAccessToken(
  context: TokenInspectionContext,
  token: string,
  now: Date = new Date(),
): Promise<TokenInspection> {
  const { db, clients, settings } = context;
  const verified = context.verifiedTokens.get(token, now);
  // The claimed client decides which audience to expect; the signature check below makes the claim trustworthy.
  const clientId = verified?.client_id ?? unverifiedClientId(token);
  if (clientId === undefined) return { active: false, reason: 'malformed' };
  const client =
    clients.peek(clientId) ??
    (clients.enabled ? (await clients.read(clientId)).client : await findClient(db, clientId));
  if (!client) return { active: false, reason: 'unknown_client' };
  const audience = client.audience ?? settings.defaultAudience;
  let claims: AccessTokenClaims;
  if (verified !== undefined) {
    if (!audienceIncludes(verified.aud, audience)) return { active: false, reason: 'invalid' };
    claims = verified;
  } else {
    try {
      const { payload } = await verifyJwt(token, context.keySet, {
        algorithms: keySetAlgorithms(context.keySet),
        issuer: settings.issuer,
        audience,
        typ: ACCESS_TOKEN_TYPE,
        subject: client.id,
        currentDate: now,
        requiredClaims: ['jti', 'iat', 'client_id'],
      });
      // `sub` is the client the unverified `client_id` named, so both claims are that client's id.
      claims = payload as AccessTokenClaims;
    } catch (error) {
      if (error instanceof JwtCoreError) {
        return { active: false, reason: error.code === 'ERR_JWT_EXPIRED' ? 'expired' : 'invalid' };
      }
      throw error;
    }
    context.verifiedTokens.set(token, claims);
  }
  if (await context.revocations.isRevoked(claims.jti)) return { active: false, reason: 'revoked' };
  if (client.status !== 'active') return { active: false, reason: 'client_disabled' };
  const scopes = typeof claims.scope === 'string' && claims.scope !== '' ? claims.scope.split(' ') : [];
  return { active: true, claims, client, scopes };
}

/** As jose checks `aud` against one expected audience: equal to it, or an array that contains it. */
function audienceIncludes(aud: string | string[], expected: string): boolean {
  return typeof aud === 'string' ? aud === expected : aud.includes(expected);
}

/** Revokes a token on behalf of `clientId` (RFC 7009): only the client it was issued to may revoke it. */
export async function revokeAccessToken(
  context: TokenInspectionContext,
  token: string,
  clientId: string,
  now: Date = new Date(),
): Promise<'revoked' | 'not_active' | 'not_owner'> {
  const inspection = await inspectAccessToken(context, token, now);
  if (!inspection.active) return 'not_active';
  if (inspection.client.id !== clientId) return 'not_owner';
  await context.db.revokedToken.createMany({
    data: [{ jti: inspection.claims.jti, clientId, expiresAt: new Date(inspection.claims.exp * 1000) }],
    skipDuplicates: true,
  });
  context.revocations.invalidate(inspection.claims.jti);
  return 'revoked';
}

function unverifiedClientId(token: string): string | undefined {
  try {
    const clientId = decodeUnverifiedClaims(token).client_id;
    return typeof clientId === 'string' && LOOKUPABLE_CLIENT_ID.test(clientId) ? clientId : undefined;
  } catch {
    return undefined;
  }
}

/** `YYYY-MM-DD HH:mm:ss` in UTC (the specification's `expire_in`). */
export function formatUtcToSecond(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}
