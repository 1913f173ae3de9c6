import fc from 'fast-check';
import { frame } from '../../test/fixtures/frames';
import { a5, hex } from '../../test/helpers/wire';
import { parseIp as ip } from './addr';
import { Bytes } from './bytes';
import { seq } from './seq';
import { WireStatus } from './status';
import { emitTcp, formatTcp, parseTcp, TcpFlag, tcpHeaderLen, TcpRepr } from './tcp';

const A = ip('198.18.0.1');
const B = ip('198.18.0.2');

function parsed(name: 'tcpSyn' | 'tcpSack' | 'tcpData'): { f: Uint8Array; r: TcpRepr } {
  const f = frame(name);
  const r = new TcpRepr();
  expect(parseTcp(new Bytes(f), 34, f.length - 34, r, A, B)).toBe(WireStatus.Ok);
  return { f, r };
}

describe('TCP', () => {
  it('parses a Linux-style SYN with all options', () => {
    const { r } = parsed('tcpSyn');
    expect(r.flags).toBe(TcpFlag.SYN);
    expect(r.seq).toBe(1000);
    expect(r.mss).toBe(1460);
    expect(r.sackPermitted).toBe(true);
    expect(r.hasTimestamp).toBe(true);
    expect(r.tsVal).toBe(1000);
    expect(r.windowScale).toBe(7);
    expect(r.window).toBe(64240);
    expect(formatTcp(r)).toBe('40000 > 80: Flags [S], seq 1000, win 64240, options [mss 1460,sackOK,TS val 1000 ecr 0,wscale 7], length 0');
  });
  it('parses SACK blocks and timestamps on an ACK', () => {
    const { r } = parsed('tcpSack');
    expect(r.flags).toBe(TcpFlag.ACK);
    expect(r.sackCount).toBe(2);
    expect(Array.from(r.sackBlocks.subarray(0, 4))).toEqual([3000, 4000, 5000, 6000]);
    expect(r.tsVal).toBe(2000);
    expect(r.tsEcr).toBe(1500);
    expect(r.mss).toBe(0);
    expect(r.windowScale).toBe(-1);
  });
  it('emits each fixture byte-exactly into a 0xa5 buffer', () => {
    for (const name of ['tcpSyn', 'tcpSack', 'tcpData'] as const) {
      const { f, r } = parsed(name);
      const hlen = tcpHeaderLen(r);
      expect(hlen).toBe(r.dataOffset);
      const out = a5(hlen + r.payloadLength);
      out.u8.set(f.subarray(34 + hlen), hlen);
      expect(emitTcp(r, out, 0, A, B)).toBe(hlen);
      expect(hex(out.u8)).toBe(hex(f.subarray(34)));
    }
  });
  it('clamps window scale above 14 (RFC 7323 §2.3) and skips unknown options', () => {
    const r = new TcpRepr();
    r.flags = TcpFlag.SYN;
    r.windowScale = 7;
    const out = a5(24);
    emitTcp(r, out, 0, A, B, false);
    const back = new TcpRepr();
    out.u8.set([3, 3, 20, 0], 20); // window scale, shift count 20, then EOL
    expect(parseTcp(out, 0, 24, back, A, B, false)).toBe(WireStatus.Ok);
    expect(back.windowScale).toBe(14);
    out.u8.set([30, 4, 9, 9], 20);
    expect(parseTcp(out, 0, 24, back, A, B, false)).toBe(WireStatus.Ok);
    expect(back.windowScale).toBe(-1);
  });
  it('reports malformed options, bad lengths, truncation and bad checksums', () => {
    const r = new TcpRepr();
    const mk = (opts: number[]): Bytes => {
      const b = a5(20 + opts.length);
      const t = new TcpRepr();
      emitTcp(t, b, 0, A, B, false);
      b.u8[12] = ((20 + opts.length) / 4) << 4;
      b.u8.set(opts, 20);
      return b;
    };
    expect(parseTcp(mk([2, 3, 0, 0]), 0, 24, r, A, B, false)).toBe(WireStatus.Malformed); // MSS len 3
    expect(parseTcp(mk([8, 1, 0, 0]), 0, 24, r, A, B, false)).toBe(WireStatus.Malformed); // len < 2
    expect(parseTcp(mk([1, 1, 8, 10]), 0, 24, r, A, B, false)).toBe(WireStatus.Malformed); // runs past header
    expect(parseTcp(mk([1, 1, 5, 6, 0, 0, 0, 0]), 0, 28, r, A, B, false)).toBe(WireStatus.Malformed); // SACK len 6
    expect(parseTcp(mk([0, 9, 9, 9]), 0, 24, r, A, B, false)).toBe(WireStatus.Ok); // EOL ends options
    const f = frame('tcpData').slice();
    const b = new Bytes(f);
    expect(parseTcp(b, 34, 19, r, A, B)).toBe(WireStatus.Truncated);
    f[34 + 12] = 0x40; // data offset 16 bytes
    expect(parseTcp(b, 34, f.length - 34, r, A, B, false)).toBe(WireStatus.BadLength);
    f[34 + 12] = 0xf0; // 60 bytes > available
    expect(parseTcp(b, 34, 40, r, A, B, false)).toBe(WireStatus.Truncated);
    f[34 + 12] = 0x50;
    f[f.length - 1] ^= 0x20;
    expect(parseTcp(b, 34, f.length - 34, r, A, B)).toBe(WireStatus.BadChecksum);
  });
  it('property: parse(emit(repr)) == repr', () => {
    fc.assert(
      fc.property(
        fc.record({
          srcPort: fc.nat({ max: 0xffff }), dstPort: fc.nat({ max: 0xffff }), seq: fc.nat({ max: 0xffffffff }), ack: fc.nat({ max: 0xffffffff }),
          flags: fc.nat({ max: 255 }), window: fc.nat({ max: 0xffff }), urgent: fc.nat({ max: 0xffff }),
          mss: fc.nat({ max: 0xffff }), windowScale: fc.integer({ min: -1, max: 14 }), sackPermitted: fc.boolean(),
          hasTimestamp: fc.boolean(), tsVal: fc.nat({ max: 0xffffffff }), tsEcr: fc.nat({ max: 0xffffffff }),
          sacks: fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 8 }), payload: fc.uint8Array({ maxLength: 32 }),
        }),
        (v) => {
          const r = new TcpRepr();
          Object.assign(r, { ...v, seq: seq(v.seq), ack: seq(v.ack) });
          r.sackCount = v.sacks.length >> 1;
          r.sackBlocks.set(v.sacks.slice(0, 2 * r.sackCount));
          r.payloadLength = v.payload.length;
          const hlen = tcpHeaderLen(r);
          const out = a5(hlen + v.payload.length);
          out.u8.set(v.payload, hlen);
          emitTcp(r, out, 0, A, B);
          const back = new TcpRepr();
          expect(parseTcp(out, 0, out.length, back, A, B)).toBe(WireStatus.Ok);
          for (const k of ['srcPort', 'dstPort', 'seq', 'ack', 'flags', 'window', 'urgent', 'mss', 'windowScale', 'sackPermitted', 'hasTimestamp', 'payloadLength'] as const) {
            expect(back[k]).toBe(r[k]);
          }
          if (r.hasTimestamp) expect([back.tsVal, back.tsEcr]).toEqual([r.tsVal, r.tsEcr]);
          // SACK blocks that fit in 40 bytes of options survive; the emitter drops the rest.
          expect(back.sackCount).toBeLessThanOrEqual(r.sackCount);
          expect(Array.from(back.sackBlocks.subarray(0, 2 * back.sackCount))).toEqual(Array.from(r.sackBlocks.subarray(0, 2 * back.sackCount)));
        },
      ),
      { numRuns: 500 },
    );
  });
});
