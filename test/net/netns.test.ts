import { execFileSync } from 'node:child_process';
import { createLink } from '../helpers/netns';

const listNs = (): string => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });

describe('test hosts (network namespaces + veth)', () => {
  it('creates a link whose ends reach each other, and removes it', async () => {
    const link = await createLink({ tag: 'selftest' });
    try {
      expect(link.a.ip).toMatch(/^198\.18\.\d+\.2$/);
      expect(link.b.ip).toMatch(/^198\.18\.\d+\.1$/);
      expect(link.a.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      const ping = await link.b.exec('ping', ['-c', '1', '-W', '2', link.a.ip]);
      expect(ping.code).toBe(0);
      expect(listNs()).toContain(link.a.ns);
    } finally {
      await link.destroy();
    }
    expect(listNs()).not.toContain(link.a.ns);
    expect(listNs()).not.toContain(link.b.ns);
  });

  it('leaves side a without a kernel address when asked (tsvma owns it)', async () => {
    const link = await createLink({ assignIpA: false });
    try {
      const addrs = await link.a.exec('ip', ['-4', '-o', 'addr', 'show', 'dev', link.a.ifname]);
      expect(addrs.stdout.trim()).toBe('');
    } finally {
      await link.destroy();
    }
  });
});
