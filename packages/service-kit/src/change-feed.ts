import { type ChangeFeed, type ChangeFeedOptions, startChangeFeed } from '@mxp/db/change-feed';
import type { FastifyInstance } from 'fastify';

/**
 * Starts a {@link ChangeFeed} for one of the app's caches, closed with the app. Its outages are logged once each
 * (a warning when it goes down, a line when it listens again; the feed retries every few seconds meanwhile), saying
 * what the cache does instead: `fallback` completes "change feed down: ...".
 */
export function startAppChangeFeed(
  app: FastifyInstance,
  cacheName: string,
  fallback: string,
  options: Omit<ChangeFeedOptions, 'onError' | 'onListening'>,
): ChangeFeed {
  const log = app.log.child({ plugin: cacheName });
  let down = false;
  const feed = startChangeFeed({
    ...options,
    onError: (error) => {
      if (down) return log.debug({ err: error }, `${cacheName} change feed still down`);
      down = true;
      log.warn({ err: error }, `${cacheName} change feed down: ${fallback}`);
    },
    onListening: () => {
      down = false;
      log.info(`${cacheName} change feed listening again`);
    },
  });
  app.addHook('onClose', async () => {
    await feed.close();
  });
  return feed;
}
