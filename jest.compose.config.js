// `npm run test:compose` (scripts/test-compose.sh): docs/deployment.md's compose walkthrough against a
// running stack. Kept out of `npm test`, which runs without a Docker engine.
import base from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  testMatch: ['<rootDir>/e2e/compose-stack.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  testTimeout: 10 * 60_000,
};
