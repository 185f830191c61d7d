import fp from 'fastify-plugin';
import { Counter, Gauge } from 'prom-client';
import type { TokenRequestRecord } from '../services/token-audit.js';

/** The token-audit reason of the extra row written when a refusal starts a lock. */
const LOCK_STARTED = 'client_locked';

/** The otherclient's own metrics, kept in the service's registry (`app.metrics`). */
export interface TokenMetrics {
  /** Counts one token-audit record: a token issued, or a request refused and why. */
  observe(record: TokenRequestRecord): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    tokenMetrics: TokenMetrics;
  }
}

/**
 * Tokens issued by grant (`api_token` for POST /api/auth/token, `client_credentials` for POST /oauth/token), requests
 * refused by endpoint and reason (what the token audit records), locks started, and the audit rows waiting for or
 * lost to the database. Fed by the token audit's `observe` hook, so the metrics and the audit trail count the same events.
 */
export const tokenMetricsPlugin = fp(
  async (app) => {
    const registers = [app.metrics.registry];
    const issued = new Counter({
      name: 'mxp_tokens_issued_total',
      help: 'Access tokens issued, by grant (api_token, client_credentials)',
      labelNames: ['grant_type'] as const,
      registers,
    });
    const refused = new Counter({
      name: 'mxp_token_request_refusals_total',
      help: 'Client authentications refused, by endpoint (grant_type) and reason (unknown_client, bad_secret, locked, ...)',
      labelNames: ['grant_type', 'reason'] as const,
      registers,
    });
    const locks = new Counter({
      name: 'mxp_client_locks_total',
      help: 'Locks started on a client id by repeated failed authentications (BACKOFF_MAX_FAILURES), by endpoint',
      labelNames: ['grant_type'] as const,
      registers,
    });
    const audit = app.tokenAudit;
    new Gauge({
      name: 'mxp_token_audit_pending_rows',
      help: 'Token audit rows waiting to be written to the database',
      registers,
      collect() {
        this.set(audit.pending);
      },
    });
    let droppedReported = 0;
    new Counter({
      name: 'mxp_token_audit_dropped_rows_total',
      help: 'Token audit rows lost because the database did not take them and the buffer was full',
      registers,
      collect() {
        const dropped = audit.dropped;
        if (dropped > droppedReported) this.inc(dropped - droppedReported);
        droppedReported = dropped;
      },
    });

    app.decorate('tokenMetrics', {
      observe(record) {
        if (record.result === 'issued') issued.inc({ grant_type: record.grantType });
        // The audit trail adds a row for the lock to the refusal that started it: one refusal, counted once.
        else if (record.reason === LOCK_STARTED) locks.inc({ grant_type: record.grantType });
        else refused.inc({ grant_type: record.grantType, reason: record.reason });
      },
    } satisfies TokenMetrics);
  },
  { name: 'otherclient-token-metrics', fastify: '5.x', dependencies: ['mxp-metrics', 'otherclient-token-audit'] },
);
