/**
 * Transparent use: an unmodified program gets tsvma's dgram through `tsvma run` and through
 * `node --require/--import tsvma/register`, for require('dgram'), require('node:dgram') and ESM
 * imports; a bad setting stops it with one line naming the variable.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..');
const bin = path.join(root, 'dist', 'bin', 'tsvma.js');
const env = { PATH: process.env.PATH, VMA_CONFIG_FILE: '/nonexistent/libvma.conf' };

describe('tsvma run and tsvma/register', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvma-app-'));
    fs.writeFileSync(path.join(dir, 'app.js'), `
      const dgram = require('dgram');
      const nd = require('node:dgram');
      import('node:dgram').then((esm) => {
        const a = dgram.createSocket('udp4'); const b = nd.createSocket('udp4');
        console.log('one module', dgram === nd, esm.createSocket === dgram.createSocket);
        b.on('message', (m, r) => { console.log('got', m.toString(), r.address, 'offloaded', a.offloaded, b.offloaded); a.close(); b.close(); });
        b.bind(9000, () => a.send('hi', 9000, process.argv[2]));
      });`);
    fs.writeFileSync(path.join(dir, 'app.mjs'), `
      import dgram from 'dgram';
      import { createSocket } from 'node:dgram';
      const s = createSocket('udp4');
      s.bind(0, () => { console.log('esm offloaded', s.offloaded, dgram.createSocket === createSocket); s.close(); });`);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('tsvma run gives a CommonJS program offloaded sockets (flags set the variables)', () => {
    const r = spawnSync(process.execPath, [bin, 'run', '--TSVMA_DEVICE=sim', '--TSVMA_ADDR=198.18.0.2/24', path.join(dir, 'app.js'), '198.18.0.2'], { encoding: 'utf8', env });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('one module true true\ngot hi 198.18.0.2 offloaded true true\n');
  });

  it('node --import tsvma/register covers ESM imports; --require covers require', () => {
    const devEnv = { ...env, TSVMA_DEVICE: 'sim', TSVMA_ADDR: '198.18.0.2/24' };
    const esm = spawnSync(process.execPath, ['--import', 'tsvma/register', path.join(dir, 'app.mjs')], { encoding: 'utf8', env: devEnv, cwd: root });
    expect(esm.stderr).toBe('');
    expect(esm.stdout.trim()).toBe('esm offloaded true true');
    const cjs = spawnSync(process.execPath, ['--require', 'tsvma/register', path.join(dir, 'app.js'), '198.18.0.2'], { encoding: 'utf8', env: devEnv, cwd: root });
    expect(cjs.stderr).toBe('');
    expect(cjs.stdout).toContain('offloaded true true');
  });

  it('without tsvma the same program uses Node\'s dgram', () => {
    const r = spawnSync(process.execPath, [path.join(dir, 'app.js'), '127.0.0.1'], { encoding: 'utf8', env });
    expect(r.stdout).toBe('one module true true\ngot hi 127.0.0.1 offloaded undefined undefined\n');
  });

  it('a bad setting or a bad flag is one clear line and a non-zero exit', () => {
    const bad = spawnSync(process.execPath, [bin, 'run', '--VMA_RX_POLL=x', path.join(dir, 'app.mjs')], { encoding: 'utf8', env });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe('tsvma: VMA_RX_POLL="x": must be an integer from -1 to 100000000\n');
    const flag = spawnSync(process.execPath, [bin, 'run', '--bogus', 'x'], { encoding: 'utf8', env });
    expect(flag.status).toBe(2);
    expect(flag.stderr).toMatch(/unknown option '--bogus'/);
    const none = spawnSync(process.execPath, [bin, 'run'], { encoding: 'utf8', env });
    expect(none.status).toBe(2);
  });
});
