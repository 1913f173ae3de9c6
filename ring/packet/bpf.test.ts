import fc from 'fast-check';
import { MAX_FILTER_MACS, macFilter, runMacFilter } from './bpf';
import { PACKET_BROADCAST, PACKET_HOST, PACKET_MULTICAST, PACKET_OTHERHOST, PACKET_OUTGOING } from './libc';

const frameTo = (mac: number): Uint8Array => {
  const f = new Uint8Array(60).fill(0xa5);
  Buffer.from(f.buffer).writeUIntBE(mac, 0, 6);
  return f;
};
const mac48 = fc.integer({ min: 0, max: 2 ** 48 - 1 });

describe('packet filter (classic BPF)', () => {
  const own = 0x0200c6120702;
  const bcast = 0xffffffffffff;
  const mcast = 0x01005e010203;

  it('accepts its MACs, drops others and everything outgoing', () => {
    const prog = macFilter([own, bcast, mcast]);
    expect(prog.length).toBe((4 * 3 + 4) * 8);
    expect(runMacFilter(prog, frameTo(own), PACKET_OTHERHOST)).toBe(0x40000);
    expect(runMacFilter(prog, frameTo(bcast), PACKET_BROADCAST)).toBe(0x40000);
    expect(runMacFilter(prog, frameTo(mcast), PACKET_MULTICAST)).toBe(0x40000);
    expect(runMacFilter(prog, frameTo(own + 1), PACKET_OTHERHOST)).toBe(0);
    expect(runMacFilter(prog, frameTo(own + 0x10000), PACKET_OTHERHOST)).toBe(0); // same low half, other high word
    expect(runMacFilter(prog, frameTo(bcast), PACKET_OUTGOING)).toBe(0);
    expect(runMacFilter(prog, frameTo(own).subarray(0, 5), PACKET_HOST)).toBe(0);
  });

  it('accepts exactly the listed MACs, for any list up to the maximum', () => {
    fc.assert(fc.property(fc.uniqueArray(mac48, { minLength: 1, maxLength: MAX_FILTER_MACS }), mac48, (macs, probe) => {
      const prog = macFilter(macs);
      for (const m of macs) if (runMacFilter(prog, frameTo(m), PACKET_HOST) === 0) return false;
      return (runMacFilter(prog, frameTo(probe), PACKET_HOST) !== 0) === macs.includes(probe);
    }), { numRuns: 300 });
  });

  it('refuses lists its 8-bit jumps cannot hold', () => {
    expect(() => macFilter([])).toThrow(RangeError);
    expect(() => macFilter(Array.from({ length: MAX_FILTER_MACS + 1 }, (_, i) => i + 1))).toThrow(/1 to 63 MACs/);
  });
});
