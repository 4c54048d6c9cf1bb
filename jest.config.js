/** @type {import('jest').Config} */
export default {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  roots: ['<rootDir>/operator', '<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, isolatedModules: true, diagnostics: false }],
  },
  globalSetup: '<rootDir>/tests/stack/global-setup.ts',
  globalTeardown: '<rootDir>/tests/stack/global-teardown.ts',
  // End-to-end suites share one API server; run files one after another.
  maxWorkers: 1,
  testTimeout: 60_000,
  verbose: true,
};
