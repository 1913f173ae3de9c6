// Lint: typescript-eslint's recommended rules plus the layering rule from DESIGN.md:
// imports point down only (bin → lib → proto → ring → verbs; conf usable by all, importing none).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Everything a layer must not import, as path patterns over relative specifiers. */
const above = (...layers) => ({
  'no-restricted-imports': ['error', {
    patterns: layers.map((l) => ({
      group: [`**/${l}`, `**/${l}/**`],
      message: `imports point down only (bin → lib → proto → ring → verbs; conf is a leaf): this layer may not import ${l}/`,
    })),
  }],
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '**/*.cjs', '**/*.mjs', 'jest.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  { files: ['lib/**/*.ts'], ignores: ['**/*.test.ts'], rules: above('bin') },
  { files: ['proto/**/*.ts'], ignores: ['**/*.test.ts'], rules: above('bin', 'lib', 'verbs') },
  { files: ['ring/**/*.ts'], ignores: ['**/*.test.ts'], rules: above('bin', 'lib', 'proto') },
  { files: ['verbs/**/*.ts'], ignores: ['**/*.test.ts'], rules: above('bin', 'lib', 'proto', 'ring') },
  { files: ['conf/**/*.ts'], ignores: ['**/*.test.ts'], rules: above('bin', 'lib', 'proto', 'ring', 'verbs') },
);
