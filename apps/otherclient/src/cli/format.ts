// Human-readable output of the admin CLI (the `--json` output is the ClientView objects themselves).
import { fields, iso, table, text } from '@mxp/service-kit/cli';
import type { ClientView } from '../services/clients.js';

/** Told with every secret the CLI prints: the service keeps only a keyed hash, so nobody can show it again. */
export function secretWarning(clientId: string): string {
  return `Store this secret now: it is shown only once and cannot be shown again (if it is lost, run \`clients rotate-secret ${clientId}\` to issue a new one).`;
}

/** Output of `clients create`. */
export function formatCreatedClient(client: ClientView, clientSecret: string): string[] {
  return [
    'Client created.',
    ...fields([
      ['client id', client.clientId],
      ['client secret', clientSecret],
    ]),
    secretWarning(client.clientId),
    '',
    ...settingsFields(client),
  ];
}

/** Output of `clients rotate-secret`. */
export function formatRotatedSecret(client: ClientView, clientSecret: string, graceSeconds: number): string[] {
  const previous = client.previousSecretExpiresAt
    ? `The previous secret keeps working until ${iso(client.previousSecretExpiresAt)} (grace ${graceSeconds} s); after that only the new one does.`
    : 'The previous secret stopped working immediately (no grace period).';
  return [
    `New secret for client ${client.clientId} (${text(client.name)}).`,
    ...fields([
      ['client id', client.clientId],
      ['client secret', clientSecret],
    ]),
    secretWarning(client.clientId),
    previous,
  ];
}

/** Output of `clients disable` and `clients enable`. */
export function formatStatusChange(client: ClientView): string[] {
  return client.status === 'disabled'
    ? [`Client ${client.clientId} (${text(client.name)}) is disabled: its token requests are refused from now on.`]
    : [`Client ${client.clientId} (${text(client.name)}) is active: it can request tokens again.`];
}

/** Output of `clients show`. */
export function formatClientDetails(client: ClientView): string[] {
  return fields([
    ['client id', client.clientId],
    ['name', text(client.name)],
    ['status', client.status],
    ['scopes', scopes(client.scopes)],
    ['audience', audience(client.audience)],
    ['token ttl', `${client.tokenTtlSeconds} s`],
    ['created', iso(client.createdAt)],
    ['last used', client.lastUsedAt ? iso(client.lastUsedAt) : 'never'],
    ['secret rotated', client.secretRotatedAt ? iso(client.secretRotatedAt) : 'never'],
    ['previous secret', client.previousSecretExpiresAt ? `valid until ${iso(client.previousSecretExpiresAt)}` : 'none'],
    ['disabled', client.disabledAt ? `since ${iso(client.disabledAt)}` : 'no'],
  ]);
}

/** Output of `clients list`: one row per client. */
export function formatClientTable(clients: readonly ClientView[]): string[] {
  if (clients.length === 0) return ['No clients yet (create one with `clients create --name NAME`).'];
  return table([
    ['ID', 'NAME', 'STATUS', 'SCOPES', 'AUDIENCE', 'TTL', 'LAST USED'],
    ...clients.map((client) => [
      client.clientId,
      text(client.name),
      client.status,
      scopes(client.scopes),
      audience(client.audience),
      `${client.tokenTtlSeconds}s`,
      client.lastUsedAt ? iso(client.lastUsedAt) : 'never',
    ]),
  ]);
}

function settingsFields(client: ClientView): string[] {
  return fields([
    ['name', text(client.name)],
    ['status', client.status],
    ['scopes', scopes(client.scopes)],
    ['audience', audience(client.audience)],
    ['token ttl', `${client.tokenTtlSeconds} s`],
    ['created', iso(client.createdAt)],
  ]);
}

function scopes(list: readonly string[]): string {
  return list.length === 0 ? '-' : list.join(',');
}

function audience(value: string | null): string {
  return value === null ? '(service default)' : text(value);
}
