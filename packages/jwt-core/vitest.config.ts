import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@mxp/source'] },
  ssr: { resolve: { conditions: ['@mxp/source'] } },
  test: { name: '@mxp/jwt-core', include: ['test/**/*.test.ts'] },
});
