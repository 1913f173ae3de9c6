import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodePcap } from '../../ring/pcap';
import { frame } from '../fixtures/frames';

const root = path.join(__dirname, '..', '..');
const bin = path.join(root, 'dist', 'bin', 'tsvma.js');
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: root });

function tcpdump(args: string[]): string {
  try {
    return execFileSync('tcpdump', args, { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' }, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('tcpdump is missing: apt-get install tcpdump (as .ci/run does)');
    throw e;
  }
}

describe('tsvma decode (built CLI; npm test builds first)', () => {
  let dir: string;
  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvma-decode-')); });
  afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  it('prints the sample capture exactly as `tcpdump -n -S -r` does', () => {
    const r = run('decode', 'test/fixtures/sample.pcap');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(15);
    expect(lines[0]).toBe('22:13:20.000000 ARP, Request who-has 198.18.0.2 tell 198.18.0.1, length 28');
    expect(lines[6]).toBe('22:13:20.009000 IP 198.18.0.1.41000 > 198.18.0.2.7000: Flags [S], seq 268435456, win 64240, options [mss 1460,sackOK,TS val 1000 ecr 0,nop,wscale 7], length 0');
    expect(r.stdout).toBe(tcpdump(['-n', '-S', '-r', path.join(root, 'test/fixtures/sample.pcap')]));
  });

  it('-v adds the IPv4 header as tcpdump -v does', () => {
    const r = run('decode', '-v', 'test/fixtures/sample.pcap');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(15);
    expect(lines[1]).toBe('22:13:20.001500 ARP, Ethernet (len 6), IPv4 (len 4), Reply 198.18.0.2 is-at 02:00:c6:12:00:02, length 28');
    expect(lines[2]).toBe('22:13:20.003000 IP (tos 0x0, ttl 64, id 8193, offset 0, flags [DF], proto ICMP (1), length 60) 198.18.0.1 > 198.18.0.2: ICMP echo request, id 7468, seq 1, length 40');
    expect(lines[6]).toMatch(/proto TCP \(6\), length 60\) 198\.18\.0\.1\.41000 > 198\.18\.0\.2\.7000: Flags \[S\], cksum 0x[0-9a-f]{4} \(correct\), seq 268435456,/);
    // tcpdump -v prints the same IP header text (on a line of its own).
    const theirs = tcpdump(['-n', '-S', '-v', '-r', path.join(root, 'test/fixtures/sample.pcap')]);
    expect(theirs).toContain(lines[2].slice(16, lines[2].indexOf(') ') + 1));
  });

  it('names bad checksums and frames cut by the snap length on their lines', () => {
    const bad = frame('udp').slice();
    bad[bad.length - 1] ^= 0x01;
    const tcp = frame('tcpData');
    const file = path.join(dir, 'notes.pcap');
    fs.writeFileSync(file, encodePcap([{ frame: bad, tsNs: 0 }, { frame: tcp, tsNs: 1000 }], { snaplen: 54 }));
    const r = run('decode', file);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(
      '00:00:00.000000 IP 198.18.0.1.40000 > 198.18.0.2.9: UDP, length 5 [bad udp cksum 0x9390 -> 0x9490!]\n' +
      '00:00:00.000001 IP 198.18.0.1 > 198.18.0.2: TCP, length 38 [ip truncated] [captured 54 of 72]\n',
    );
    // The expected value is tcpdump's own (`-vv` names it: `[bad udp cksum 0x9390 -> 0x9490!]`).
    expect(tcpdump(['-n', '-vv', '-r', file])).toContain('[bad udp cksum 0x9390 -> 0x9490!]');
  });

  it('says clearly what is wrong with a missing, non-pcap or truncated file', () => {
    const missing = run('decode', 'no-such-file.pcap');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe('tsvma decode: cannot read no-such-file.pcap: no such file or directory (ENOENT)\n');
    const notPcap = run('decode', 'package.json');
    expect(notPcap.status).toBe(1);
    expect(notPcap.stderr).toMatch(/^tsvma decode: package\.json: not a pcap file: magic 0x7b0a2020/);
    const cut = path.join(dir, 'cut.pcap');
    const whole = fs.readFileSync(path.join(root, 'test/fixtures/sample.pcap'));
    fs.writeFileSync(cut, whole.subarray(0, whole.length - 10));
    const truncated = run('decode', cut);
    expect(truncated.status).toBe(1);
    expect(truncated.stdout.trim().split('\n')).toHaveLength(14); // every whole record is printed first
    expect(truncated.stderr).toMatch(/truncated: record 15 at byte \d+: \d+ bytes captured but only \d+ left in the file/);
    const noArgs = run('decode');
    expect(noArgs.status).toBe(2);
    expect(noArgs.stderr).toMatch(/usage: tsvma decode/);
    expect(run('decode', '--frob', 'x').status).toBe(2);
  });

  it('rejects unknown commands with usage', () => {
    const r = run('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
  });
});
