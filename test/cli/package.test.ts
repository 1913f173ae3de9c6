import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..');
// Node resolves a package's own name from inside it (self-reference through "exports"), so these run
// against the built package exactly as a user's `require('tsvma')` / `import 'tsvma'` would.
const node = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, args, { encoding: 'utf8', cwd: root, env: { PATH: process.env.PATH, ...env } });

describe('package entry points (built)', () => {
  it('require works for tsvma, tsvma/dgram, tsvma/net, tsvma/register', () => {
    const r = node(['-e', `
      const t = require('tsvma'); const d = require('tsvma/dgram'); const n = require('tsvma/net'); require('tsvma/register');
      console.log(typeof t.version, typeof d.createSocket, typeof n.createServer, typeof n.Socket);`]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('string function function function');
  });
  it('import works for the same entry points', () => {
    const r = node(['--input-type=module', '-e', `
      import { version } from 'tsvma'; import dgram, { createSocket } from 'tsvma/dgram'; import { createConnection } from 'tsvma/net';
      import 'tsvma/register';
      console.log(typeof version, typeof dgram.createSocket, typeof createSocket, typeof createConnection);`]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('string function function function');
  });
  it('--import / --require tsvma/register fail at start-up on a bad value, naming it', () => {
    for (const flag of ['--import', '--require']) {
      const r = node([flag, 'tsvma/register', '-e', 'console.log("ran")'], { VMA_RX_POLL: 'fast' });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/VMA_RX_POLL="fast": must be an integer/);
      expect(r.stdout).toBe('');
    }
    const ok = node(['--import', 'tsvma/register', '-e', 'console.log("ran")'], { VMA_RX_POLL: '5' });
    expect(ok.stdout.trim()).toBe('ran');
  });
});
