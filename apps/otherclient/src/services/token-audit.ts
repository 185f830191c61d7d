import type { PrismaClient } from '@mxp/db';

export interface TokenRequestRecord {
  /** The client id as presented (it may name no client); cut to a bounded length. */
  clientId: string | undefined;
  ip: string;
  result: 'issued' | 'failed';
  /** Why it failed (`unknown_client`, `bad_secret`, `disabled_client`, `invalid_scope`) or the secret used. */
  reason: string;
  tokenId?: string;
  grantType: 'api_token' | 'client_credentials';
}

/** Writes one row of the token audit trail (never a secret). */
export async function recordTokenRequest(db: PrismaClient, record: TokenRequestRecord): Promise<void> {
  await db.tokenAudit.create({
    data: {
      clientId: record.clientId?.slice(0, 200) ?? null,
      ip: record.ip.slice(0, 100),
      result: record.result,
      reason: record.reason,
      tokenId: record.tokenId ?? null,
      grantType: record.grantType,
    },
  });
}
