import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@mxp/source'] },
  ssr: { resolve: { conditions: ['@mxp/source'] } },
  test: {
    name: '@mxp/e2e',
    include: ['test/**/*.test.ts'],
    // Real processes on a machine shared with the rest of the suite: starting four services takes seconds, more
    // when every CPU is busy with other test files.
    hookTimeout: 90_000,
    testTimeout: 60_000,
  },
});
