import type { ApiClient, Prisma, PrismaClient } from '@mxp/db';
import { generateClientSecret, hashClientSecret } from './client-secrets.js';

/** What administrators and the admin CLI see of a client: never a secret or a hash. */
export interface ClientView {
  clientId: string;
  name: string;
  status: 'active' | 'disabled';
  scopes: string[];
  audience: string | null;
  tokenTtlSeconds: number;
  createdAt: Date;
  lastUsedAt: Date | null;
  secretRotatedAt: Date | null;
  previousSecretExpiresAt: Date | null;
  disabledAt: Date | null;
}

/** Stable reasons an administrative change is refused. */
export type ClientAdminErrorCode = 'CLIENT_NOT_FOUND' | 'INVALID_INPUT';

/** A refused administrative change, with a message fit for the operator. */
export class ClientAdminError extends Error {
  constructor(
    readonly code: ClientAdminErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ClientAdminError';
  }
}

export interface NewClient {
  name: string;
  scopes?: readonly string[];
  audience?: string | null;
  tokenTtlSeconds?: number;
}

/** Limits of a client's settings. */
export const CLIENT_LIMITS = {
  nameMaxLength: 200,
  scopeMaxLength: 100,
  scopesMax: 50,
  audienceMaxLength: 200,
  ttlMinSeconds: 60,
  ttlMaxSeconds: 86_400,
  defaultTtlSeconds: 3_600,
} as const;

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), i.e. printable ASCII without space, `"` and `\`.
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** The view of a stored client. */
export function toClientView(client: ApiClient): ClientView {
  return {
    clientId: client.id,
    name: client.name,
    status: client.status,
    scopes: client.allowedScopes,
    audience: client.audience,
    tokenTtlSeconds: client.tokenTtlSeconds,
    createdAt: client.createdAt,
    lastUsedAt: client.lastUsedAt,
    secretRotatedAt: client.secretRotatedAt,
    previousSecretExpiresAt: client.previousSecretExpiresAt,
    disabledAt: client.disabledAt,
  };
}

function validateNewClient(input: NewClient): Required<NewClient> {
  const name = input.name.trim();
  if (name.length === 0 || name.length > CLIENT_LIMITS.nameMaxLength) {
    throw new ClientAdminError('INVALID_INPUT', `name must have 1 to ${CLIENT_LIMITS.nameMaxLength} characters`);
  }
  const scopes = [...new Set(input.scopes ?? [])];
  if (scopes.length > CLIENT_LIMITS.scopesMax) {
    throw new ClientAdminError('INVALID_INPUT', `at most ${CLIENT_LIMITS.scopesMax} scopes`);
  }
  for (const scope of scopes) {
    if (!SCOPE_TOKEN.test(scope) || scope.length > CLIENT_LIMITS.scopeMaxLength) {
      throw new ClientAdminError(
        'INVALID_INPUT',
        `invalid scope "${scope}": printable ASCII without spaces, quotes or backslashes, at most ${CLIENT_LIMITS.scopeMaxLength} characters`,
      );
    }
  }
  const audience = input.audience?.trim() || null;
  if (audience !== null && audience.length > CLIENT_LIMITS.audienceMaxLength) {
    throw new ClientAdminError(
      'INVALID_INPUT',
      `audience must have at most ${CLIENT_LIMITS.audienceMaxLength} characters`,
    );
  }
  const tokenTtlSeconds = input.tokenTtlSeconds ?? CLIENT_LIMITS.defaultTtlSeconds;
  if (
    !Number.isInteger(tokenTtlSeconds) ||
    tokenTtlSeconds < CLIENT_LIMITS.ttlMinSeconds ||
    tokenTtlSeconds > CLIENT_LIMITS.ttlMaxSeconds
  ) {
    throw new ClientAdminError(
      'INVALID_INPUT',
      `ttl must be a whole number of seconds from ${CLIENT_LIMITS.ttlMinSeconds} to ${CLIENT_LIMITS.ttlMaxSeconds}`,
    );
  }
  return { name, scopes, audience, tokenTtlSeconds };
}

function audit(
  tx: Prisma.TransactionClient,
  action: string,
  clientId: string,
  actor: string | undefined,
  details?: Prisma.InputJsonObject,
) {
  return tx.clientAdminAudit.create({ data: { action, clientId, actor: actor ?? null, details } });
}

/** Creates a client with a new secret; the secret is returned here once and stored only as a keyed hash. */
export async function createClient(
  db: PrismaClient,
  pepper: string,
  input: NewClient,
  actor?: string,
): Promise<{ client: ClientView; clientSecret: string }> {
  const settings = validateNewClient(input);
  const clientSecret = generateClientSecret();
  const client = await db.$transaction(async (tx) => {
    const created = await tx.apiClient.create({
      data: {
        name: settings.name,
        secretHash: hashClientSecret(clientSecret, pepper),
        allowedScopes: [...settings.scopes],
        audience: settings.audience,
        tokenTtlSeconds: settings.tokenTtlSeconds,
      },
    });
    await audit(tx, 'client.create', created.id, actor, {
      name: settings.name,
      scopes: [...settings.scopes],
      audience: settings.audience,
      tokenTtlSeconds: settings.tokenTtlSeconds,
    });
    return created;
  });
  return { client: toClientView(client), clientSecret };
}

/** Every client, newest first. */
export async function listClients(db: PrismaClient): Promise<ClientView[]> {
  const clients = await db.apiClient.findMany({ orderBy: { createdAt: 'desc' } });
  return clients.map(toClientView);
}

/** One client, or a CLIENT_NOT_FOUND error. */
export async function getClient(db: PrismaClient, clientId: string): Promise<ClientView> {
  const client = await db.apiClient.findUnique({ where: { id: clientId } });
  if (!client) throw new ClientAdminError('CLIENT_NOT_FOUND', `no client with id ${clientId}`);
  return toClientView(client);
}

/**
 * Gives the client a new secret (returned once). The previous secret keeps working for `graceSeconds` (0: stops at
 * once), so integrators can roll the new one out without downtime; a secret older than that stops working.
 */
export async function rotateClientSecret(
  db: PrismaClient,
  pepper: string,
  clientId: string,
  graceSeconds: number,
  actor?: string,
  now: Date = new Date(),
): Promise<{ client: ClientView; clientSecret: string }> {
  if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > 30 * 86_400) {
    throw new ClientAdminError('INVALID_INPUT', 'grace must be a whole number of seconds from 0 to 2592000 (30 days)');
  }
  const clientSecret = generateClientSecret();
  const client = await db.$transaction(async (tx) => {
    const current = await tx.apiClient.findUnique({ where: { id: clientId } });
    if (!current) throw new ClientAdminError('CLIENT_NOT_FOUND', `no client with id ${clientId}`);
    const previousSecretExpiresAt = graceSeconds > 0 ? new Date(now.getTime() + graceSeconds * 1000) : null;
    const updated = await tx.apiClient.update({
      where: { id: clientId },
      data: {
        secretHash: hashClientSecret(clientSecret, pepper),
        previousSecretHash: previousSecretExpiresAt ? current.secretHash : null,
        previousSecretExpiresAt,
        secretRotatedAt: now,
      },
    });
    await audit(tx, 'client.rotate_secret', clientId, actor, {
      graceSeconds,
      previousSecretExpiresAt: previousSecretExpiresAt?.toISOString() ?? null,
    });
    return updated;
  });
  return { client: toClientView(client), clientSecret };
}

/** Disables a client (its token requests fail at once) or enables it again. */
export async function setClientStatus(
  db: PrismaClient,
  clientId: string,
  status: 'active' | 'disabled',
  actor?: string,
): Promise<ClientView> {
  const client = await db.$transaction(async (tx) => {
    const current = await tx.apiClient.findUnique({ where: { id: clientId } });
    if (!current) throw new ClientAdminError('CLIENT_NOT_FOUND', `no client with id ${clientId}`);
    const updated = await tx.apiClient.update({
      where: { id: clientId },
      data: { status, disabledAt: status === 'disabled' ? new Date() : null },
    });
    await audit(tx, status === 'disabled' ? 'client.disable' : 'client.enable', clientId, actor);
    return updated;
  });
  return toClientView(client);
}

// "Last used" needs minute precision, not a write per token request.
const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * The clients' "last used" time, written by the token audit writer's flush: at most once a minute per client and
 * process, in one UPDATE for every client due. What this process last wrote is remembered here, as a cached client's
 * `lastUsedAt` is never refreshed (the column does not notify: see migration 20261121080000).
 */
export class ClientUseRecorder {
  /** Client id → when this process last wrote its use (ms); only the last minute's are kept. */
  readonly #written = new Map<string, number>();
  /** Client id → its latest use not written yet (ms). */
  readonly #due = new Map<string, number>();

  /** A token was issued to `clientId` at `atMs`. */
  note(clientId: string, atMs: number): void {
    const written = this.#written.get(clientId);
    if (written !== undefined && atMs - written < LAST_USED_RESOLUTION_MS) return;
    const due = this.#due.get(clientId);
    if (due === undefined || due < atMs) this.#due.set(clientId, atMs);
  }

  /** Clients whose use is still to be written. */
  get pending(): number {
    return this.#due.size;
  }

  /** Writes the due clients' use (the latest of their times: they are at most a flush interval apart). */
  async write(db: PrismaClient): Promise<void> {
    if (this.#due.size === 0) return;
    const due = [...this.#due];
    const latestMs = due.reduce((latest, [, atMs]) => Math.max(latest, atMs), 0);
    const lastUsedAt = new Date(latestMs);
    await db.apiClient.updateMany({
      // Another replica may have written a later time already.
      where: {
        id: { in: due.map(([clientId]) => clientId) },
        OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: lastUsedAt } }],
      },
      data: { lastUsedAt },
    });
    for (const [clientId, atMs] of due) {
      this.#written.set(clientId, atMs);
      // A use noted during the write is covered by it too.
      const next = this.#due.get(clientId);
      if (next !== undefined && next - atMs < LAST_USED_RESOLUTION_MS) this.#due.delete(clientId);
    }
    for (const [clientId, atMs] of this.#written) {
      if (latestMs - atMs >= LAST_USED_RESOLUTION_MS) this.#written.delete(clientId);
    }
  }
}
