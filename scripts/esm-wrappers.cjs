#!/usr/bin/env node
// Writes dist/lib/<entry>.mjs next to each CommonJS entry point so that `import` works for users:
// each wrapper re-exports the CommonJS module's named exports (the list is read from the built
// module itself, so it never goes stale) and its default.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const dist = path.join(__dirname, '..', 'dist', 'lib');
for (const entry of ['index', 'dgram', 'net']) {
  const cjs = path.join(dist, `${entry}.js`);
  if (!fs.existsSync(cjs)) throw new Error(`esm-wrappers: ${cjs} missing; did tsc run?`);
  const names = Object.keys(require(cjs)).filter((n) => n !== 'default' && n !== '__esModule' && /^[A-Za-z_$][\w$]*$/.test(n));
  const lines = [`import m from './${entry}.js';`, 'export default m;'];
  if (names.length) lines.push(`export const { ${names.join(', ')} } = m;`);
  fs.writeFileSync(path.join(dist, `${entry}.mjs`), lines.join('\n') + '\n');
}
// register is imported for its effect only (`node --import tsvma/register`).
fs.writeFileSync(path.join(dist, 'register.mjs'), "import './register.js';\n");
// The ESM resolve hook that lib/register.ts registers: 'dgram' and 'node:dgram' resolve to tsvma's
// dgram for every module but tsvma's own.
fs.writeFileSync(path.join(dist, 'register-hooks.mjs'), `let ours = '';
let dgram = '';
export function initialize(data) {
  ours = data.libDir;
  dgram = data.dgram;
}
export async function resolve(specifier, context, next) {
  if ((specifier === 'dgram' || specifier === 'node:dgram') && !(context.parentURL || '').startsWith(ours)) {
    return { url: dgram, shortCircuit: true };
  }
  return next(specifier, context);
}
`);
