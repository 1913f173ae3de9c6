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
};
