import { randomUUID } from 'node:crypto';

/**
 * A UUIDv7 (RFC 9562) like Prisma's `@default(uuid(7))`: 48 bits of Unix milliseconds, then 74 random bits taken from
 * `randomUUID` (which draws from a pre-filled entropy pool, cheaper than new random bytes each time). For rows written
 * without Prisma's defaults (batched inserts, the hot paths' database functions); time-ordered, so inserts stay at the
 * end of the primary key's index.
 */
export function uuidV7(unixMs: number = Date.now()): string {
  const time = unixMs.toString(16).padStart(12, '0');
  // randomUUID: xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx, V already the RFC variant (8 to b).
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${randomUUID().slice(15)}`;
}
