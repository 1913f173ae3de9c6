/** `tsvma demo`, the README's main job: both embedded defaults, and its argument errors. */
import { execFileSync, spawnSync } from 'node:child_process';
import * as path from 'node:path';

const bin = path.join(__dirname, '..', '..', 'dist', 'bin', 'tsvma.js');
const env = { PATH: process.env.PATH };
const row = /^(Node dgram \(kernel\)|tsvma)\s+(\d+\.\d)\s+(\d+\.\d)\s+(\d+\.\d)\s+(\d+)$/m;

describe('tsvma demo', () => {
  it('runs on the sim device and prints the side-by-side table', () => {
    const r = spawnSync(process.execPath, [bin, 'demo', '--sim', '--count', '300'], { encoding: 'utf8', env, timeout: 60000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('tsvma demo — sim device in process: 300 × 64-byte UDP round trips');
    const lines = r.stdout.split('\n').filter((l) => row.test(l));
    expect(lines).toHaveLength(2);
    expect(r.stdout).toMatch(/^tsvma \/ Node\s+[\d.]+×/m);
  });

  it('as root, runs the packet device over a veth in namespaces it creates and removes', () => {
    const r = spawnSync(process.execPath, [bin, 'demo', '--count', '300'], { encoding: 'utf8', env, timeout: 90000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('packet device on a veth');
    expect(r.stdout.split('\n').filter((l) => row.test(l))).toHaveLength(2);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toMatch(/tsvdemo/);
  });

  it('rejects bad arguments with usage', () => {
    const r = spawnSync(process.execPath, [bin, 'demo', '--count', 'x'], { encoding: 'utf8', env });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--count takes a whole number/);
    const u = spawnSync(process.execPath, [bin, 'demo', '--fast'], { encoding: 'utf8', env });
    expect(u.status).toBe(2);
    expect(u.stderr).toMatch(/unknown option '--fast'/);
  });
});
