// `npm run test:timing` (scripts/test-timing.js): the tests that hold a threshold on wall-clock time
// (*.timing.test.ts), kept out of `npm test` so its verdict does not depend on the machine's load.
import base from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  testMatch: ['**/*.timing.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};
