import { randomUUID } from 'node:crypto';
import type { PrismaClient } from '@mxp/db';
import { clientSecretMatches, generateClientSecret, hashClientSecret } from '../services/client-secrets.js';

export interface DemoClientCredentials {
  clientId: string;
  clientSecret: string;
}

/**
 * Development only: makes sure a demo API client exists whose secret is `known.clientSecret` (the one printed
 * last time), creating it with fresh credentials when there is none yet.
 */
export async function ensureDemoClient(
  db: PrismaClient,
  pepper: string,
  known?: DemoClientCredentials,
): Promise<DemoClientCredentials> {
  const clientId = known?.clientId ?? randomUUID();
  const clientSecret = known?.clientSecret ?? generateClientSecret();
  const existing = await db.apiClient.findUnique({ where: { id: clientId } });
  if (existing && existing.status === 'active' && clientSecretMatches(clientSecret, existing.secretHash, pepper)) {
    return { clientId, clientSecret };
  }
  const secretHash = hashClientSecret(clientSecret, pepper);
  await db.apiClient.upsert({
    where: { id: clientId },
    create: { id: clientId, name: 'Demo integrator', secretHash, allowedScopes: ['demo:read', 'demo:write'] },
    update: { secretHash, status: 'active', disabledAt: null },
  });
  return { clientId, clientSecret };
}
