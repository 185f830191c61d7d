import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@mxp/source'] },
  ssr: { resolve: { conditions: ['@mxp/source'] } },
  test: { name: '@mxp/contracts', include: ['test/**/*.test.ts'] },
});
