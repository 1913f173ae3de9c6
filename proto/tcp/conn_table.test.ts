import fc from 'fast-check';
import { ConnTable } from './conn_table';
import { TcpSocket } from './socket';

describe('ConnTable', () => {
  it('finds exactly what was added and not removed, through growth and backward-shift deletion', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 40 })), { maxLength: 300 }),
        fc.integer(),
        (ops, seed) => {
          const t = new ConnTable(seed, 4);
          // 41 candidate tuples, several sharing addresses or ports (unsigned addresses above 2^31 included).
          const socks = Array.from({ length: 41 }, (_, k) => {
            const s = new TcpSocket();
            s.localIp = k % 3 === 0 ? 0xc6120002 : 0x0a000001;
            s.remoteIp = (0xc6120000 + (k % 5)) >>> 0;
            s.localPort = 80 + (k % 2);
            s.remotePort = 40000 + k;
            return s;
          });
          const live = new Set<TcpSocket>();
          for (const [add, k] of ops) {
            const s = socks[k];
            if (add && !live.has(s)) {
              t.add(s);
              live.add(s);
            } else if (!add && live.has(s)) {
              t.remove(s);
              live.delete(s);
            }
            for (const x of socks) expect(t.get(x.localIp, x.localPort, x.remoteIp, x.remotePort)).toBe(live.has(x) ? x : null);
            expect(t.size).toBe(live.size);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
