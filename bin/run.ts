/**
 * `tsvma run [--NAME=value ...] app.js [args...]`: runs an unmodified Node program with tsvma's
 * sockets (`node --import tsvma/register app.js args`). `--TSVMA_DEVICE=sim`-style flags set the
 * variables of the same names for the program; the program's exit code is tsvma's.
 */
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';

const usage = 'usage: tsvma run [--TSVMA_*=value | --VMA_*=value ...] app.js [args...]\n';

export async function run(args: string[]): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  let i = 0;
  for (; i < args.length && args[i].startsWith('--'); i++) {
    const m = /^--((?:TSVMA|VMA)_[A-Z0-9_]+)=(.*)$/.exec(args[i]);
    if (!m) {
      process.stderr.write(`tsvma run: unknown option '${args[i]}' (expected --TSVMA_NAME=value or --VMA_NAME=value)\n${usage}`);
      return 2;
    }
    env[m[1]] = m[2];
  }
  const app = args[i];
  if (app === undefined) {
    process.stderr.write(usage);
    return 2;
  }
  const register = path.join(__dirname, '..', 'lib', 'register.mjs');
  const child = spawn(process.execPath, ['--import', register, app, ...args.slice(i + 1)], { stdio: 'inherit', env });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0)));
    child.on('error', (e) => {
      process.stderr.write(`tsvma run: ${e.message}\n`);
      resolve(1);
    });
  });
}
