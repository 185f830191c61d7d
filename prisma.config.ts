// Configuration of the stock Prisma CLI. The project's own `pnpm db:migrate` (packages/db) reads the same
// schema and migrations folder but needs no engine download; operators may still use `prisma migrate deploy`.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' },
});
