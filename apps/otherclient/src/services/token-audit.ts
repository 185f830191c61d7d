import type { PrismaClient } from '@mxp/db';

export interface TokenRequestRecord {
  /** The client id as presented (it may name no client); cut to a bounded length. */
  clientId: string | undefined;
  ip: string;
  result: 'issued' | 'failed';
  /** Why it failed (`unknown_client`, `bad_secret`, `disabled_client`, `invalid_scope`) or the secret used. */
  reason: string;
  tokenId?: string;
  /** Which endpoint authenticated the client. */
  grantType: 'api_token' | 'client_credentials' | 'introspection' | 'revocation';
}

/** Writes one row of the token audit trail (never a secret). */
export async function recordTokenRequest(db: PrismaClient, record: TokenRequestRecord): Promise<void> {
  await db.tokenAudit.create({
    data: {
      // Stored as presented but bounded, and without U+0000, which PostgreSQL text cannot hold.
      clientId: record.clientId?.slice(0, 200).replaceAll('\u0000', '\uFFFD') ?? null,
      ip: record.ip.slice(0, 100),
      result: record.result,
      reason: record.reason,
      tokenId: record.tokenId ?? null,
      grantType: record.grantType,
    },
  });
}
