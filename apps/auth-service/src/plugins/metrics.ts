import type { PrismaClient } from '@mxp/db';
import fp from 'fastify-plugin';
import { Counter, Gauge } from 'prom-client';
import { activeSessionWhere } from '../services/sessions.js';

/** How a login ended: signed in, or why not (the reasons of the attempt record). */
export type LoginOutcome =
  | 'success'
  | 'unknown_application'
  | 'application_disabled'
  | 'unknown_user'
  | 'bad_password'
  | 'user_disabled'
  | 'locked'
  | 'session_refused';
/** How a credentials check (`POST /auth/verify`) ended. */
export type VerifyOutcome = 'success' | 'unknown_user' | 'bad_password' | 'user_disabled' | 'locked';
/** How a refresh ended: a new access token, or why not (`reuse_detected` also revoked the session). */
export type RefreshOutcome = 'success' | 'unknown' | 'inactive' | 'concurrent_reuse' | 'reuse_detected';

/** The auth-service's own metrics, kept in the service's registry (`app.metrics`). */
export interface AuthMetrics {
  login(outcome: LoginOutcome): void;
  verify(outcome: VerifyOutcome): void;
  refresh(outcome: RefreshOutcome): void;
  logout(): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    authMetrics: AuthMetrics;
  }
}

export interface AuthMetricsPluginOptions {
  /** Shortest time between two counts of the active sessions (a scrape in between reports the last count). */
  activeSessionsRecountMs: number;
}

/** Longest a scrape waits for the count: a slow database must not hold up the other metrics. */
const COUNT_WAIT_MS = 1_000;

/**
 * Counts active sessions in the database, at most once per `recountMs`. A count that fails, or is not back within
 * COUNT_WAIT_MS, leaves the last value (undefined before the first): a scrape never waits longer for it.
 */
function activeSessionsCounter(db: () => PrismaClient, recountMs: number, onError: (error: unknown) => void) {
  let countedAt = Number.NEGATIVE_INFINITY;
  let last: number | undefined;
  return async (): Promise<number | undefined> => {
    const now = Date.now();
    if (now - countedAt < recountMs) return last;
    countedAt = now;
    const counting = db()
      .session.count({ where: activeSessionWhere(new Date(now)) })
      .then((count) => {
        last = count;
      }, onError);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([counting, new Promise((resolve) => (timer = setTimeout(resolve, COUNT_WAIT_MS)))]);
    clearTimeout(timer);
    return last;
  };
}

/**
 * Logins and credential checks by outcome, refreshes by outcome, refresh-token reuse detections, logouts, access tokens
 * issued, and the active sessions (a count of the whole database, the same on every replica: aggregate it with `max`,
 * not `sum`).
 */
export const authMetricsPlugin = fp<AuthMetricsPluginOptions>(
  async (app, options) => {
    const registers = [app.metrics.registry];
    const logins = new Counter({
      name: 'mxp_logins_total',
      help: 'POST /auth/login by outcome (success, or the reason it was refused)',
      labelNames: ['outcome'] as const,
      registers,
    });
    const verifications = new Counter({
      name: 'mxp_credential_checks_total',
      help: 'POST /auth/verify by outcome (success, or the reason it was refused)',
      labelNames: ['outcome'] as const,
      registers,
    });
    const refreshes = new Counter({
      name: 'mxp_refreshes_total',
      help: 'POST /auth/token/refresh by outcome (success, or the reason it was refused)',
      labelNames: ['outcome'] as const,
      registers,
    });
    const reuseDetections = new Counter({
      name: 'mxp_refresh_token_reuse_detections_total',
      help: 'Rotated-out refresh tokens presented after the grace period (each revoked its session)',
      registers,
    });
    const logouts = new Counter({ name: 'mxp_logouts_total', help: 'Sessions ended by POST /auth/logout', registers });
    const accessTokens = new Counter({
      name: 'mxp_access_tokens_issued_total',
      help: 'Access tokens signed, by how (login, refresh)',
      labelNames: ['grant'] as const,
      registers,
    });
    const countActiveSessions = activeSessionsCounter(
      () => app.db,
      options.activeSessionsRecountMs,
      (error) => app.log.warn({ err: error }, 'active sessions not counted for the metrics'),
    );
    new Gauge({
      name: 'mxp_active_sessions',
      help: 'Sessions neither revoked nor expired, in the whole database (ACTIVE_SESSIONS_METRIC_INTERVAL_MS apart)',
      registers,
      async collect() {
        const count = await countActiveSessions();
        if (count !== undefined) this.set(count);
      },
    });

    app.decorate('authMetrics', {
      login(outcome) {
        logins.inc({ outcome });
        if (outcome === 'success') accessTokens.inc({ grant: 'login' });
      },
      verify: (outcome) => verifications.inc({ outcome }),
      refresh(outcome) {
        refreshes.inc({ outcome });
        if (outcome === 'success') accessTokens.inc({ grant: 'refresh' });
        else if (outcome === 'reuse_detected') reuseDetections.inc();
      },
      logout: () => logouts.inc(),
    } satisfies AuthMetrics);
  },
  { name: 'auth-service-metrics', fastify: '5.x', dependencies: ['mxp-metrics', 'mxp-db'] },
);
