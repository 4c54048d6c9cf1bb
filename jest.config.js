/** @type {import('jest').Config} */
const common = {
  preset: 'ts-jest/presets/default-esm',
  // TypeScript rewrites our relative '.ts' imports to '.js'; resolve them back to the sources.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }],
  },
};

export default {
  // End-to-end suites share one API server; files run one after another.
  maxWorkers: 1,
  testTimeout: 120_000,
  verbose: true,
  projects: [
    {
      ...common,
      displayName: 'unit',
      roots: ['<rootDir>/operator', '<rootDir>/tests/stack', '<rootDir>/tests/monitoring', '<rootDir>/charts', '<rootDir>/docs'],
      testMatch: ['**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      roots: ['<rootDir>/tests/e2e'],
      testMatch: ['**/*.test.ts'],
      globalSetup: '<rootDir>/tests/stack/global-setup.mjs',
      globalTeardown: '<rootDir>/tests/stack/global-teardown.mjs',
    },
  ],
};
