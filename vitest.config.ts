import { defineConfig } from 'vitest/config';

// VMs spin on cores and CI machines have two: test files run one at a time.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
