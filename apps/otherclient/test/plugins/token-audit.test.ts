import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrismaClient } from '@mxp/db';
import { createTestDatabase } from '@mxp/db/testing';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadOtherclientConfig } from '../../src/config.js';
import { testEnv } from '../helpers.js';

describe('the token audit plugin', () => {
  it('writes the rows still in memory when the app closes, before its database pool closes', async () => {
    const database = await createTestDatabase();
    const admin = createPrismaClient(database.url, { poolMax: 1 });
    try {
      const app = await buildApp(
        loadOtherclientConfig(testEnv(database.url, { DATA_DIR: mkdtempSync(join(tmpdir(), 'mxp-audit-')) })),
      );
      const response = await app.inject({
        method: 'POST',
        url: '/api/auth/token',
        payload: { clientId: 'nobody', clientSecret: 'nothing' },
      });
      expect(response.statusCode).toBe(401);
      expect(app.tokenAudit.pending).toBe(1);
      await app.close();
      expect(await admin.tokenAudit.findMany({ where: { clientId: 'nobody' } })).toEqual([
        expect.objectContaining({ result: 'failed', reason: 'unknown_client', grantType: 'api_token' }),
      ]);
    } finally {
      await admin.$disconnect();
      await database.drop();
    }
  });
});
