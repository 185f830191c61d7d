import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@mxp/source'] },
  ssr: { resolve: { conditions: ['@mxp/source'] } },
  test: { name: '@mxp/db', include: ['test/**/*.test.ts'], globalSetup: ['test/global-setup.ts'] },
});
