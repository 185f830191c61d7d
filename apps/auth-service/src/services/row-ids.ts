import { randomUUID } from 'node:crypto';

/**
 * A new row id like Prisma's `@default(uuid(7))` (RFC 9562 version 7: Unix milliseconds, then 74 random bits), for
 * rows written by the database functions of the hot paths, which Prisma's defaults do not reach. The random part is
 * a v4 UUID's, from the pool `randomUUID` keeps, which costs less than drawing new bytes every time.
 */
export function uuidV7(): string {
  const millis = Date.now().toString(16).padStart(12, '0');
  // xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx: after the version digit, 3 + 15 random digits with the RFC variant.
  return `${millis.slice(0, 8)}-${millis.slice(8, 12)}-7${randomUUID().slice(15)}`;
}
