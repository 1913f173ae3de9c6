/** jest: TypeScript through @swc/jest (type checking is `tsc`'s job, in `npm run build`). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>'],
  testMatch: ['**/*.test.ts'],
  // test/verbs/rxe needs soft-RoCE devices: `npm run test:rxe` runs it inside rxe-vm.
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/test/verbs/rxe/'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  // Network tests create namespaces; keep them serial per file and bounded in time.
  testTimeout: 30000,
  // A test that fails or times out can leave a child process behind (test/helpers/netns.ts kills what
  // runs in its namespaces when a link is destroyed); should anything else stay open, the run still
  // ends with its result instead of hanging until CI's limit.
  forceExit: true,
};
