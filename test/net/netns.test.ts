/**
 * The test-host helper itself: links are reachable, unique, IPv6-free, and removed by destroy(),
 * by a process exit, and (for a killed process) by the sweep at the next createLink.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createLink, netnsUnavailable } from '../helpers/netns';

const listNs = (): string => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
const nsNames = (): string[] => listNs().split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
const REGISTER = path.join(__dirname, 'swc-register.cjs');
const HELPER = path.join(__dirname, '..', 'helpers', 'netns.ts');

describe('test hosts (network namespaces + veth)', () => {
  it('is available here (CI runs as root with iproute2)', () => {
    expect(netnsUnavailable()).toBeNull();
  });

  it('creates a link whose ends reach each other, without IPv6, and removes it', async () => {
    const link = await createLink({ tag: 'selftest' });
    try {
      expect(link.prefix).toBe(24);
      expect(link.subnet).toMatch(/^198\.1[89]\.\d+\.0$/);
      const net = link.subnet.slice(0, -1);
      expect(link.a.ip).toBe(`${net}2`);
      expect(link.b.ip).toBe(`${net}1`);
      expect(link.a.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      expect(link.a.ns.startsWith('tsv')).toBe(true);
      expect(link.a.ifname.length).toBeLessThanOrEqual(15);
      const ping = await link.b.exec('ping', ['-c', '1', '-W', '2', link.a.ip]);
      expect(ping.code).toBe(0);
      for (const h of [link.a, link.b]) {
        const v6 = await h.exec('ip', ['-6', '-o', 'addr', 'show', 'dev', h.ifname]);
        expect(v6.stdout.trim()).toBe('');
        const lo = await h.exec('ip', ['-o', 'link', 'show', 'lo']);
        expect(lo.stdout).toMatch(/<LOOPBACK,UP,LOWER_UP>/);
      }
      const input = await link.b.exec('cat', [], { input: 'through stdin' });
      expect(input).toEqual({ code: 0, stdout: 'through stdin', stderr: '' });
      expect(nsNames()).toEqual(expect.arrayContaining([link.a.ns, link.b.ns]));
    } finally {
      await link.destroy();
    }
    expect(nsNames()).not.toContain(link.a.ns);
    expect(nsNames()).not.toContain(link.b.ns);
    await link.destroy(); // idempotent
  });

  it('leaves side a without a kernel address when asked (tsvma owns it), and gives each live link its own /24', async () => {
    const l1 = await createLink({ assignIpA: false });
    const l2 = await createLink({ assignIpA: false, assignIpB: false });
    try {
      const addrs = await l1.a.exec('ip', ['-4', '-o', 'addr', 'show', 'dev', l1.a.ifname]);
      expect(addrs.code).toBe(0);
      expect(addrs.stdout.trim()).toBe('');
      const b2 = await l2.b.exec('ip', ['-4', '-o', 'addr', 'show', 'dev', l2.b.ifname]);
      expect(b2.stdout.trim()).toBe('');
      expect(l1.subnet).not.toBe(l2.subnet);
      expect(l1.a.ns).not.toBe(l2.a.ns);
      expect(l1.a.ifname).not.toBe(l2.a.ifname);
    } finally {
      await l1.destroy();
      await l2.destroy();
    }
  });

  it('removes what a process left when it exits normally, and sweeps what a killed process left', async () => {
    const child = (body: string) => spawnSync(process.execPath, ['-r', REGISTER, '-e', `
      const { createLink } = require(${JSON.stringify(HELPER)});
      createLink({ tag: 'orphan' }).then((l) => { console.log(l.a.ns + ' ' + l.b.ns); ${body} });`], { encoding: 'utf8', timeout: 20000 });

    const exited = child('process.exit(0);');
    expect(exited.stderr).toBe('');
    const [ea, eb] = exited.stdout.trim().split(' ');
    expect(ea).toMatch(/^tsvorphan/);
    expect(nsNames()).not.toContain(ea);
    expect(nsNames()).not.toContain(eb);

    const killed = child("process.kill(process.pid, 'SIGKILL');");
    expect(killed.signal).toBe('SIGKILL');
    const [ka, kb] = killed.stdout.trim().split(' ');
    expect(nsNames()).toEqual(expect.arrayContaining([ka, kb]));
    expect(fs.existsSync(`/run/tsvma-test/${ka}.pid`)).toBe(true);
    const next = await createLink({ tag: 'sweep' });
    await next.destroy();
    expect(nsNames()).not.toContain(ka);
    expect(nsNames()).not.toContain(kb);
    expect(fs.existsSync(`/run/tsvma-test/${ka}.pid`)).toBe(false);
  });
});
