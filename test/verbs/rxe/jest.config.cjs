/**
 * jest for the suite that needs verbs devices: run by `npm run test:rxe` inside ../shared/rxe/rxe-vm
 * (soft-RoCE rxe0/rxe1), never by the default jest run (jest.config.js ignores test/verbs/rxe/).
 * Child processes run the built dist/ (npm run build runs on the host first).
 */
const base = require('../../../jest.config.js');
module.exports = {
  ...base,
  rootDir: '../../..',
  roots: ['<rootDir>/test/verbs/rxe'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  // TCG runs guest code 15-20x slower than the host: generous limits, one file at a time.
  testTimeout: 600000,
  maxWorkers: 1,
};
