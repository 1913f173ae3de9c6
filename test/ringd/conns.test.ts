/**
 * ring/daemon/conns.ts: ringd's TCP connection table (open addressing over typed arrays).
 */
import { ConnFlag, ConnTable, flowHash } from '../../ring/daemon/conns';

describe("ringd's connection table", () => {
  it('finds, updates and removes connections by (remote address, local port, remote port), through growth and tombstones', () => {
    const t = new ConnTable(16);
    const ip = (i: number): number => (0xc6120001 + (i >> 8)) | 0;
    const n = 5000;
    for (let i = 0; i < n; i++) {
      expect(t.find(ip(i), 8080, 1024 + (i & 0xff))).toBe(-1);
      const s = t.add(ip(i), 8080, 1024 + (i & 0xff), 1 + (i % 7), i);
      t.sndNxt[s] = i * 3;
      t.flags[s] = ConnFlag.Known;
    }
    expect(t.size).toBe(n);
    expect(t.capacity).toBeGreaterThanOrEqual(2 * n);
    for (let i = 0; i < n; i++) {
      const s = t.find(ip(i), 8080, 1024 + (i & 0xff));
      expect(s).toBeGreaterThanOrEqual(0);
      expect([t.owner[s], t.sndNxt[s], t.localPort(s), t.remotePort(s), t.remoteIp(s)]).toEqual([1 + (i % 7), i * 3, 8080, 1024 + (i & 0xff), ip(i)]);
    }
    // Same tuple but another local port: a different connection.
    expect(t.find(ip(0), 8081, 1024)).toBe(-1);
    for (let i = 0; i < n; i += 2) t.remove(t.find(ip(i), 8080, 1024 + (i & 0xff)));
    expect(t.size).toBe(n / 2);
    for (let i = 0; i < n; i++) expect(t.find(ip(i), 8080, 1024 + (i & 0xff)) >= 0).toBe(i % 2 === 1);
    // Churn: tombstones are reused or rehashed away, the table does not grow without bound.
    const cap = t.capacity;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 1000; i++) t.add(ip(i) ^ 0x10000, 9090, i, 9, round);
      for (let i = 0; i < 1000; i++) t.remove(t.find(ip(i) ^ 0x10000, 9090, i));
    }
    expect(t.size).toBe(n / 2);
    expect(t.capacity).toBe(cap);
    for (let i = 1; i < n; i += 2) expect(t.find(ip(i), 8080, 1024 + (i & 0xff))).toBeGreaterThanOrEqual(0);
  });

  it('spreads a flow hash evenly enough over a few members', () => {
    const counts = [0, 0, 0, 0];
    for (let p = 32768; p < 32768 + 4000; p++) counts[(flowHash(0xc6120001 | 0, p, 8080) >>> 0) % 4]++;
    for (const c of counts) expect(c).toBeGreaterThan(800);
  });
});
