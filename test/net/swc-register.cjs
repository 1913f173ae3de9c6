// Lets a child `node -r ./swc-register.cjs` require the repo's .ts sources directly (the same
// @swc/core transform jest uses), so child-process tests never run a stale dist/ build.
const fs = require('node:fs');
const Module = require('node:module');
const swc = require('@swc/core');

Module._extensions['.ts'] = function compileTs(module, filename) {
  const { code } = swc.transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    module: { type: 'commonjs' },
    jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
    sourceMaps: 'inline',
  });
  module._compile(code, filename);
};
