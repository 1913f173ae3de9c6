import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..');
const bin = path.join(root, 'dist', 'bin', 'tsvma.js');
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: root });

describe('tsvma decode (built CLI; npm test builds first)', () => {
  it('prints one line per frame of the sample capture', () => {
    const r = run('decode', 'test/fixtures/sample.pcap');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(15);
    expect(lines[0]).toBe('09:46:40.000000 ARP, Request who-has 198.18.0.2 tell 198.18.0.1, length 28');
    expect(lines[7]).toMatch(/^09:46:40\.010500 IP 198\.18\.0\.1\.40000 > 198\.18\.0\.2\.80: Flags \[S\], seq 1000, win 64240, options \[mss 1460,sackOK,TS val 1000 ecr 0,wscale 7\], length 0$/);
  });
  it('says clearly what is wrong with a missing or non-pcap file', () => {
    const missing = run('decode', 'no-such-file.pcap');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/cannot read no-such-file\.pcap: ENOENT/);
    const notPcap = run('decode', 'package.json');
    expect(notPcap.status).toBe(1);
    expect(notPcap.stderr).toMatch(/not a pcap file/);
    const noArgs = run('decode');
    expect(noArgs.status).toBe(2);
    expect(noArgs.stderr).toMatch(/usage: tsvma decode/);
  });
  it('rejects unknown commands with usage', () => {
    const r = run('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
  });
});
