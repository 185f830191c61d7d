import { createPrismaClient, type PrismaClient } from '@mxp/db';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** The Prisma client of the service, connected through `@prisma/adapter-pg`. */
    db: PrismaClient;
  }
}

export interface DbPluginOptions {
  databaseUrl: string;
  poolMax: number;
  connectTimeoutMs: number;
  /** Longest wait for a query's answer on an open connection (a dropped network never answers). */
  queryTimeoutMs: number;
}

/** Opens the database pool for the app's lifetime and closes it on `app.close()`. */
export const dbPlugin = fp<DbPluginOptions>(
  async (app, options) => {
    const db = createPrismaClient(options.databaseUrl, {
      poolMax: options.poolMax,
      connectionTimeoutMillis: options.connectTimeoutMs,
      queryTimeoutMillis: options.queryTimeoutMs,
      onConnectionError: (error) => app.log.warn({ err: error }, 'database connection lost'),
    });
    app.decorate('db', db);
    // Prisma loads its query compiler (WebAssembly) and pg opens a connection on the first query, ~130 ms that the
    // first health probe would otherwise wait for: started now, it overlaps the rest of startup (readiness, pnpm
    // bench). A failure here changes nothing: the health route still pings the database and answers 503 until it
    // answers.
    const warmUp = pingDatabase(db).catch(() => {});
    app.addHook('onClose', async () => {
      await warmUp;
      await db.$disconnect();
    });
  },
  { name: 'mxp-db', fastify: '5.x' },
);

/** Resolves when the database answers a trivial query; rejects (a database-unavailable error) otherwise. */
export async function pingDatabase(db: PrismaClient): Promise<void> {
  await db.$queryRaw`SELECT 1`;
}
