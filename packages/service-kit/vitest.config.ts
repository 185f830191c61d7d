import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@mxp/source'] },
  ssr: { resolve: { conditions: ['@mxp/source'] } },
  test: { name: '@mxp/service-kit', include: ['test/**/*.test.ts'] },
});
