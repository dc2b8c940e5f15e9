/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  // A guard against a hung test, not a threshold on speed: many tests start processes (the admin
  // CLI, both services), which takes several seconds on a loaded machine; jest's default is 5 s.
  testTimeout: 30_000,
  roots: [
    '<rootDir>/shared',
    '<rootDir>/auth-server',
    '<rootDir>/resource-server',
    '<rootDir>/e2e',
    '<rootDir>/bench',
  ],
  testMatch: ['**/test/**/*.test.ts', '<rootDir>/e2e/**/*.test.ts'],
  // e2e/compose-stack.test.ts needs a running compose stack: `npm run test:compose` runs it.
  // *.timing.test.ts hold thresholds on wall-clock time: `npm run test:timing` runs them.
  testPathIgnorePatterns: [
    '/node_modules/',
    '/dist/',
    '<rootDir>/e2e/compose-stack.test.ts',
    '\\.timing\\.test\\.ts$',
  ],
  modulePathIgnorePatterns: ['<rootDir>/.*/dist/'],
  testEnvironmentOptions: { customExportConditions: ['@tessera/source', 'node', 'node-addons'] },
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.jest.json' }] },
};
