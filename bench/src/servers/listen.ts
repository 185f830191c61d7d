// What the floor servers share: the harness's readiness probe, a clean stop on SIGTERM, and the port from PORT.
import type { FastifyInstance } from 'fastify';

/** Adds `GET /health` (the harness's readiness probe, like the services' health routes) and listens on PORT/HOST. */
export async function listenForHarness(app: FastifyInstance): Promise<void> {
  app.get('/health', async () => ({ status: 'ok' }));
  process.on('SIGTERM', () => {
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 0) });
}
