/**
 * `tsvma/register`: `node --require tsvma/register app.js` or `node --import tsvma/register app.js`
 * (what `tsvma run` does) gives an unmodified program tsvma's dgram for `require('dgram')`,
 * `require('node:dgram')` and ESM imports of either. The configuration is validated first, so a bad
 * TSVMA_* or VMA_* value stops the program at start-up with an error naming it.
 *
 * CommonJS: Module._load maps the two names to tsvma/dgram. ESM: a resolve hook registered with
 * `module.register` does the same. tsvma's own modules keep getting Node's dgram (they pass sockets
 * through to it). `net` keeps Node's own module: its Socket and Server classes are patched instead
 * (lib/net.ts offloadNodeNet), so every TCP socket of the process — http's included — goes through
 * the offload decision.
 */
import Module from 'node:module';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig } from './config';
import { offloadNodeNet } from './net';

try {
  loadConfig(process.env);
} catch (e) {
  if ((e as { code?: string }).code !== 'ERR_TSVMA_CONFIG') throw e;
  // A bad setting stops the program before it runs, with one line naming it (no stack trace).
  process.stderr.write(`tsvma: ${(e as Error).message}\n`);
  process.exit(1);
}

const libDir = __dirname;
const ours = (file: string | undefined): boolean => !!file && file.startsWith(libDir + path.sep);
const replaced: Record<string, string> = { dgram: path.join(libDir, 'dgram.js'), 'node:dgram': path.join(libDir, 'dgram.js') };

type Load = (request: string, parent: { filename?: string } | undefined, isMain: boolean) => unknown;
const M = Module as unknown as { _load: Load & { tsvmaHooked?: boolean } };
if (!M._load.tsvmaHooked) {
  const original = M._load;
  const hooked: Load & { tsvmaHooked?: boolean } = function (this: unknown, request, parent, isMain) {
    const target = replaced[request];
    if (target && !ours(parent?.filename)) return original.call(this, target, parent, isMain);
    return original.call(this, request, parent, isMain);
  };
  hooked.tsvmaHooked = true;
  M._load = hooked;
  // ESM: the resolve hook lives in register-hooks.mjs (written next to this file by the build).
  const register = (Module as unknown as { register?: (specifier: string, parentURL: string, opts?: unknown) => void }).register;
  if (register) {
    register(pathToFileURL(path.join(libDir, 'register-hooks.mjs')).href, pathToFileURL(__filename).href, {
      data: { libDir: pathToFileURL(libDir + path.sep).href, dgram: pathToFileURL(path.join(libDir, 'dgram.mjs')).href },
    });
  }
}

offloadNodeNet();
