import fp from 'fastify-plugin';
import { TokenAuditWriter, type TokenRequestRecord } from '../services/token-audit.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The token audit trail, written in batches (`app.tokenAudit.record(...)`; tests `await flush()` before reading). */
    tokenAudit: TokenAuditWriter;
  }
}

export interface TokenAuditPluginOptions {
  /** TOKEN_AUDIT_BUFFER_MAX_ROWS */
  maxBufferedRows: number;
  /** Told of every record as it is made (the service's metrics). */
  observe?: (record: TokenRequestRecord) => void;
}

/** The batched token audit writer of this replica; what it holds is written when the app closes. */
export const tokenAuditPlugin = fp<TokenAuditPluginOptions>(
  async (app, options) => {
    const writer = new TokenAuditWriter(app.db, {
      maxBufferedRows: options.maxBufferedRows,
      log: app.log.child({ plugin: 'token-audit' }),
      observe: options.observe,
    });
    app.decorate('tokenAudit', writer);
    // Registered after the database plugin, so this runs before the pool closes (onClose hooks run in reverse).
    app.addHook('onClose', async () => {
      await writer.close();
    });
  },
  { name: 'otherclient-token-audit', fastify: '5.x', dependencies: ['mxp-db'] },
);
