import { defineConfig } from 'vitest/config';

// One run over every workspace project; `@mxp/source` makes workspace packages resolve to their TypeScript
// sources, so tests never need a build first.
export default defineConfig({
  resolve: { conditions: ['@mxp/source'] },
  ssr: { resolve: { conditions: ['@mxp/source'] } },
  test: {
    projects: ['packages/*/vitest.config.ts', 'apps/*/vitest.config.ts', 'e2e/vitest.config.ts'],
  },
});
