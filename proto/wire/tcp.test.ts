/**
 * TCP codec. Fixtures are TCP segments (header + data) as byte literals, each with the line
 * `tcpdump -n -S` 4.99.3 printed for it (after the addresses):
 * - `linux*` were sent by Linux (a Python client at 198.19.253.2 and server at 198.19.253.1 in two
 *   network namespaces over a veth with checksum offload off) and captured with tcpdump;
 * - `sackData`, `synUnknown` and `urgent` were built by a separate Python struct script with its
 *   own RFC 1071 sum; tcpdump and tshark call their checksums correct.
 */
import fc from 'fast-check';
import { parseIp } from './addr';
import { Bytes } from './bytes';
import { seq } from './seq';
import { WireStatus } from './status';
import {
  emitTcp,
  formatTcp,
  formatTcpFlags,
  parseTcp,
  TCP_MAX_OPTIONS_LEN,
  TcpFlag,
  tcpHeaderLen,
  TcpRepr,
} from './tcp';

const CLIENT = parseIp('198.19.253.2');
const SERVER = parseIp('198.19.253.1');

interface Fixture {
  hex: string;
  src: number;
  dst: number;
  /** What tcpdump printed after `IP a.p > b.q: `, and what formatTcp prints after `p > q: `. */
  tcpdump: string;
}

const fx = {
  linuxSyn: {
    hex: '92480050b88de0cf00000000a002faf05ad10000020405b40402080a5ee0e138000000000103030a',
    src: CLIENT, dst: SERVER,
    tcpdump: 'Flags [S], seq 3096305871, win 64240, options [mss 1460,sackOK,TS val 1591796024 ecr 0,nop,wscale 10], length 0',
  },
  linuxSynAck: {
    hex: '005092484b97b90cb88de0d0a012fe8814ea0000020405b40402080af77046295ee0e1380103030a',
    src: SERVER, dst: CLIENT,
    tcpdump: 'Flags [S.], seq 1268234508, ack 3096305872, win 65160, options [mss 1460,sackOK,TS val 4151330345 ecr 1591796024,nop,wscale 10], length 0',
  },
  linuxAck: {
    hex: '92480050b88de0d04b97b90d8010003f420300000101080a5ee0e138f7704629',
    src: CLIENT, dst: SERVER,
    tcpdump: 'Flags [.], ack 1268234509, win 63, options [nop,nop,TS val 1591796024 ecr 4151330345], length 0',
  },
  linuxData: {
    hex: '92480050b88de0d04b97b90d8018003f634900000101080a5ee0e138f7704629474554202f20485454502f312e300d0a0d0a',
    src: CLIENT, dst: SERVER,
    tcpdump: 'Flags [P.], seq 3096305872:3096305890, ack 1268234509, win 63, options [nop,nop,TS val 1591796024 ecr 4151330345], length 18',
  },
  linuxDataOdd: {
    hex: '005092484b97b90db88de0e280180040780200000101080af770462a5ee0e138485454502f312e3020323030204f4b0d0a0d0a',
    src: SERVER, dst: CLIENT,
    tcpdump: 'Flags [P.], seq 1268234509:1268234528, ack 3096305890, win 64, options [nop,nop,TS val 4151330346 ecr 1591796024], length 19',
  },
  linuxFin: {
    hex: '005092484b97b920b88de0e28011004041da00000101080af770462a5ee0e139',
    src: SERVER, dst: CLIENT,
    tcpdump: 'Flags [F.], seq 1268234528, ack 3096305890, win 64, options [nop,nop,TS val 4151330346 ecr 1591796025], length 0',
  },
  /** Data with 3 SACK blocks (the most that fit beside timestamps), the first across 2^32. */
  sackData: {
    hex:
      '005092484b97b921fffffc00f0180040f24600000101080af77046605ee0e1840101051a' +
      'fffffe000000010000000300000005000000090000000a00' +
      '7361636b206d65',
    src: SERVER, dst: CLIENT,
    tcpdump: 'Flags [P.], seq 1268234529:1268234536, ack 4294966272, win 64, options [nop,nop,TS val 4151330400 ecr 1591796100,nop,nop,sack 3 {4294966784:256}{768:1280}{2304:2560}], length 7',
  },
  /**
   * A SYN with a TFO cookie (kind 34, length 10) and kind 253 (length 4) before MSS, then NOP, EOL.
   * tcpdump: `options [tfo  cookie 0102030405060708,unknown-253 0xabcd,mss 1460,nop,eol]`; the Repr
   * keeps only MSS, so formatTcp prints the canonical layout.
   */
  synUnknown: {
    hex: '924900501234567800000000a002faf0ffc20000220a0102030405060708fd04abcd020405b40100',
    src: CLIENT, dst: SERVER,
    tcpdump: 'Flags [S], seq 305419896, win 64240, options [mss 1460], length 0',
  },
  /** PSH ACK URG ECE CWR, urgent pointer 1, one byte of data, no options. */
  urgent: {
    hex: '924a005000000064000000c850f8020071f8000121',
    src: CLIENT, dst: SERVER,
    tcpdump: 'Flags [P.UEW], seq 100:101, ack 200, win 512, urg 1, length 1',
  },
} satisfies Record<string, Fixture>;

type Name = keyof typeof fx;
const names = Object.keys(fx) as Name[];
/** Fixtures whose options are in Linux's layout, so emit must reproduce them byte for byte. */
const reEmittable = names.filter((n) => n !== 'synUnknown');

function u8Of(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

function bytesAt(u8: Uint8Array, at: number, tail = 0): Bytes {
  const b = Bytes.alloc(at + u8.length + tail, 0x5a);
  b.u8.set(u8, at);
  return b;
}

function hexOf(b: Bytes, off = 0, len = b.length - off): string {
  return Buffer.from(b.u8.buffer, b.u8.byteOffset + off, len).toString('hex');
}

function parseFixture(name: Name, r = new TcpRepr()): TcpRepr {
  const f = fx[name];
  const u8 = u8Of(f.hex);
  expect(parseTcp(bytesAt(u8, 3), 3, u8.length, r, f.src, f.dst)).toBe(WireStatus.Ok);
  return r;
}

/** A TcpRepr with `fields` (a copy of `sackBlocks` if given; `blocks` sets blocks and sackCount). */
function repr(fields: Partial<TcpRepr> & { blocks?: number[] }): TcpRepr {
  const { blocks, sackBlocks, ...rest } = fields;
  const r = Object.assign(new TcpRepr(), rest);
  if (sackBlocks) r.sackBlocks.set(sackBlocks);
  if (blocks) {
    r.sackBlocks.set(blocks);
    r.sackCount = blocks.length / 2;
  }
  return r;
}

/** Emits `r` with `payload` into a 0xa5 buffer at `off` (3 guard bytes after); returns the buffer. */
function emitA5(r: TcpRepr, payload: Uint8Array, off = 0, src = CLIENT, dst = SERVER, withChecksum = true): Bytes {
  const hlen = tcpHeaderLen(r);
  const b = Bytes.alloc(off + hlen + payload.length + 3, 0xa5);
  b.u8.set(payload, off + hlen);
  expect(emitTcp(r, b, off, src, dst, withChecksum)).toBe(hlen);
  return b;
}

/** A header of `opts` option bytes (padded by the caller to a multiple of 4), checksum not set. */
function withOptions(opts: number[], extraLen = 0): { b: Bytes; len: number } {
  const len = 20 + opts.length + extraLen;
  const b = Bytes.alloc(len, 0xa5);
  emitTcp(repr({ srcPort: 1, dstPort: 2, flags: TcpFlag.SYN }), b, 0, CLIENT, SERVER, false);
  b.u8[12] = ((20 + opts.length) / 4) << 4;
  b.u8.set(opts, 20);
  return { b, len };
}

describe('TCP parse: segments Linux sent', () => {
  it('a SYN: MSS, SACK-permitted, timestamps, NOP, window scale', () => {
    expect(parseFixture('linuxSyn')).toEqual(
      repr({
        srcPort: 37448, dstPort: 80, seq: seq(3096305871), ack: seq(0), flags: TcpFlag.SYN, window: 64240, urgent: 0,
        dataOffset: 40, payloadLength: 0, mss: 1460, windowScale: 10, sackPermitted: true, sackCount: 0,
        hasTimestamp: true, tsVal: 1591796024, tsEcr: 0, checksum: 0x5ad1,
      }),
    );
  });

  it('the SYN-ACK', () => {
    const r = parseFixture('linuxSynAck');
    expect(r.flags).toBe(TcpFlag.SYN | TcpFlag.ACK);
    expect([r.seq, r.ack, r.window, r.mss, r.windowScale, r.sackPermitted]).toEqual([1268234508, 3096305872, 65160, 1460, 10, true]);
    expect([r.hasTimestamp, r.tsVal, r.tsEcr]).toEqual([true, 4151330345, 1591796024]);
  });

  it('a data segment with timestamps only', () => {
    const r = parseFixture('linuxData');
    expect([r.flags, r.dataOffset, r.payloadLength, r.mss, r.windowScale, r.sackPermitted, r.sackCount]).toEqual([
      TcpFlag.PSH | TcpFlag.ACK, 32, 18, 0, -1, false, 0,
    ]);
    expect([r.tsVal, r.tsEcr]).toEqual([1591796024, 4151330345]);
  });

  it('prints every fixture as tcpdump -n -S did', () => {
    for (const name of names) {
      const r = parseFixture(name);
      expect(`${name}: ${formatTcp(r)}`).toBe(`${name}: ${r.srcPort} > ${r.dstPort}: ${fx[name].tcpdump}`);
    }
  });
});

describe('TCP parse: options', () => {
  it('reads SACK blocks across the 2^32 wrap', () => {
    const r = parseFixture('sackData');
    expect(r.sackCount).toBe(3);
    expect(Array.from(r.sackBlocks)).toEqual([0xfffffe00, 0x100, 0x300, 0x500, 0x900, 0xa00, 0, 0]);
    expect([r.ack, r.payloadLength, r.tsVal, r.tsEcr]).toEqual([0xfffffc00, 7, 4151330400, 1591796100]);
  });

  it('skips unknown options by their length and stops at EOL', () => {
    const r = parseFixture('synUnknown');
    expect([r.mss, r.windowScale, r.sackPermitted, r.hasTimestamp, r.sackCount, r.dataOffset]).toEqual([1460, -1, false, false, 0, 40]);
    // Anything after EOL is not read, even a would-be malformed option.
    const { b, len } = withOptions([0, 2, 9, 9]);
    expect(parseTcp(b, 0, len, r, CLIENT, SERVER, false)).toBe(WireStatus.Ok);
    expect(r.mss).toBe(0);
  });

  it('clamps a window scale above 14 to 14 (RFC 7323 §2.3)', () => {
    const r = new TcpRepr();
    for (const [shift, want] of [[14, 14], [15, 14], [255, 14], [0, 0]]) {
      const { b, len } = withOptions([1, 3, 3, shift]);
      expect(parseTcp(b, 0, len, r, CLIENT, SERVER, false)).toBe(WireStatus.Ok);
      expect(r.windowScale).toBe(want);
    }
  });

  it('a reused Repr keeps nothing from the previous segment', () => {
    const r = parseFixture('sackData');
    parseFixture('linuxSyn', r);
    expect(r).toEqual(parseFixture('linuxSyn'));
    parseFixture('urgent', r);
    expect(r).toEqual(parseFixture('urgent'));
    // A second SACK option with fewer blocks replaces the first entirely.
    const { b, len } = withOptions([1, 1, 5, 18, ...new Array(16).fill(7), 1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    expect(parseTcp(b, 0, len, r, CLIENT, SERVER, false)).toBe(WireStatus.Ok);
    expect([r.sackCount, ...Array.from(r.sackBlocks)]).toEqual([1, 1, 2, 0, 0, 0, 0, 0, 0]);
  });
});

describe('TCP parse: every status', () => {
  const r = new TcpRepr();
  const malformed: Array<[string, number[]]> = [
    ['MSS with length 3', [2, 3, 5, 0xb4]],
    ['MSS with length 5', [2, 5, 5, 0xb4, 0, 1, 1, 1]],
    ['window scale with length 4', [3, 4, 7, 0]],
    ['SACK-permitted with length 3', [4, 3, 0, 0]],
    ['timestamps with length 8', [8, 8, 0, 0, 0, 0, 0, 0]],
    ['SACK with length 6 (not 8n + 2)', [5, 6, 0, 0, 0, 0, 1, 1]],
    ['SACK with no block (length 2)', [5, 2, 1, 1]],
    ['an option with length 0', [1, 1, 30, 0]],
    ['an unknown option with length 1', [30, 1, 1, 1]],
    ['an option running past the header', [1, 1, 8, 10]],
    ['a kind byte with no length byte', [1, 1, 1, 30]],
  ];
  for (const [what, opts] of malformed) {
    it(`Malformed: ${what}`, () => {
      const { b, len } = withOptions(opts);
      expect(parseTcp(b, 0, len, r, CLIENT, SERVER, false)).toBe(WireStatus.Malformed);
    });
  }

  it('Truncated, BadLength, BadChecksum', () => {
    const u8 = u8Of(fx.linuxData.hex);
    const b = new Bytes(u8);
    expect(parseTcp(b, 0, 19, r, CLIENT, SERVER)).toBe(WireStatus.Truncated); // < 20 bytes
    expect(parseTcp(b, 0, 31, r, CLIENT, SERVER)).toBe(WireStatus.Truncated); // data offset 32 > 31
    expect(parseTcp(b, 0, u8.length - 1, r, CLIENT, SERVER)).toBe(WireStatus.BadChecksum); // the checksum covers all of len
    expect(parseTcp(b, 0, u8.length, r, CLIENT, parseIp('198.19.253.3'))).toBe(WireStatus.BadChecksum); // pseudo-header
    u8[u8.length - 1] ^= 0x20;
    expect(parseTcp(b, 0, u8.length, r, CLIENT, SERVER)).toBe(WireStatus.BadChecksum);
    expect(parseTcp(b, 0, u8.length, r, CLIENT, SERVER, false)).toBe(WireStatus.Ok);
    for (const doff of [0, 1, 4]) {
      u8[12] = doff << 4;
      expect(parseTcp(b, 0, u8.length, r, CLIENT, SERVER, false)).toBe(WireStatus.BadLength);
    }
    u8[12] = 0xf0; // 60 bytes, more than the 50 there are
    expect(parseTcp(b, 0, u8.length, r, CLIENT, SERVER, false)).toBe(WireStatus.Truncated);
    u8[12] = 0x50; // 20 bytes: the options become payload
    expect(parseTcp(b, 0, u8.length, r, CLIENT, SERVER, false)).toBe(WireStatus.Ok);
    expect([r.dataOffset, r.payloadLength, r.hasTimestamp]).toEqual([20, 30, false]);
  });
});

describe('TCP emit', () => {
  it('reproduces every fixture in Linux layout byte for byte into a 0xa5 buffer', () => {
    for (const name of reEmittable) {
      const f = fx[name];
      const r = parseFixture(name);
      const payload = u8Of(f.hex).subarray(r.dataOffset);
      const b = emitA5(r, payload, 5, f.src, f.dst);
      expect(`${name}: ${hexOf(b)}`).toBe(`${name}: a5a5a5a5a5${f.hex}a5a5a5`);
    }
  });

  it('takes the pseudo-header addresses unsigned or as signed 32-bit (addr | 0) alike', () => {
    const r = parseFixture('sackData');
    const payload = u8Of(fx.sackData.hex).subarray(r.dataOffset);
    const b = emitA5(r, payload, 0, SERVER | 0, CLIENT | 0);
    expect(hexOf(b, 0, b.length - 3)).toBe(fx.sackData.hex);
    expect(parseTcp(b, 0, b.length - 3, new TcpRepr(), SERVER | 0, CLIENT | 0)).toBe(WireStatus.Ok);
  });

  it('builds the SYN from a fresh Repr (header size from the Repr alone)', () => {
    const r = repr({
      srcPort: 37448, dstPort: 80, seq: seq(3096305871), flags: TcpFlag.SYN, window: 64240,
      mss: 1460, sackPermitted: true, hasTimestamp: true, tsVal: 1591796024, windowScale: 10,
    });
    expect(tcpHeaderLen(r)).toBe(40);
    expect(hexOf(emitA5(r, new Uint8Array(0)), 0, 40)).toBe(fx.linuxSyn.hex);
  });

  it('drops unknown options and EOL padding: the SYN with a TFO cookie re-emits with MSS only', () => {
    const r = parseFixture('synUnknown');
    const b = emitA5(r, new Uint8Array(0));
    expect(hexOf(b)).toBe('924900501234567800000000' + '6002faf0' + hexOf(b, 16, 2) + '0000' + '020405b4' + 'a5a5a5');
    expect(parseTcp(b, 0, 24, new TcpRepr(), CLIENT, SERVER)).toBe(WireStatus.Ok);
  });

  it('lays options out as Linux does without timestamps: NOP NOP SACK-permitted, NOP window scale', () => {
    const r = repr({ flags: TcpFlag.SYN, mss: 1460, sackPermitted: true, windowScale: 7 });
    expect(hexOf(emitA5(r, new Uint8Array(0)), 20, 12)).toBe('020405b4' + '01010402' + '01030307');
    const ts = repr({ flags: TcpFlag.ACK, hasTimestamp: true, tsVal: 1, tsEcr: 2 });
    expect(hexOf(emitA5(ts, new Uint8Array(0)), 20, 12)).toBe('0101080a' + '00000001' + '00000002');
  });

  it('sends as many SACK blocks as fit in 40 bytes: 4 alone, 3 beside timestamps, 2 beside MSS + timestamps + window scale', () => {
    const blocks = [1, 2, 3, 4, 5, 6, 7, 8];
    const cases: Array<[Partial<TcpRepr>, number]> = [
      [{}, 4],
      [{ hasTimestamp: true }, 3],
      [{ mss: 536, hasTimestamp: true, windowScale: 0 }, 2],
      [{ mss: 536, sackPermitted: true, windowScale: 0 }, 3],
      [{ mss: 536 }, 4],
    ];
    for (const [fields, sent] of cases) {
      const r = repr({ ...fields, flags: TcpFlag.ACK, blocks, payloadLength: 1 });
      const hlen = tcpHeaderLen(r);
      const b = emitA5(r, Uint8Array.of(9));
      expect(hlen).toBeLessThanOrEqual(20 + TCP_MAX_OPTIONS_LEN);
      expect(hexOf(b, hlen - 4 - 8 * sent, 4)).toBe(`010105${(2 + 8 * sent).toString(16).padStart(2, '0')}`); // NOP NOP SACK length
      const back = new TcpRepr();
      expect(parseTcp(b, 0, hlen + 1, back, CLIENT, SERVER)).toBe(WireStatus.Ok);
      expect(back.sackCount).toBe(sent);
      expect(Array.from(back.sackBlocks.subarray(0, 2 * sent))).toEqual(blocks.slice(0, 2 * sent));
    }
  });

  it('writes a zero checksum when asked for none, and ignores the Repr fields parse alone fills', () => {
    const r = parseFixture('linuxAck');
    r.checksum = 0x1234;
    r.dataOffset = 60;
    const b = emitA5(r, new Uint8Array(0), 0, CLIENT, SERVER, false);
    expect(hexOf(b, 0, 32)).toBe(fx.linuxAck.hex.slice(0, 32) + '0000' + fx.linuxAck.hex.slice(36));
  });

  it('throws RangeError for a Repr no header can carry', () => {
    const b = Bytes.alloc(100);
    const bad: Array<Partial<TcpRepr>> = [
      { srcPort: 65536 }, { dstPort: -1 }, { window: 0x10000 }, { urgent: -5 }, { mss: 70000 }, { flags: 0x100 },
      { windowScale: 15 }, { windowScale: -2 }, { sackCount: 5 }, { sackCount: -1 }, { payloadLength: -1 }, { payloadLength: 0xffff - 19 },
    ];
    for (const fields of bad) expect(() => emitTcp(repr(fields), b, 0, CLIENT, SERVER)).toThrow(RangeError);
    expect(emitTcp(repr({ payloadLength: 0xffff - 20 }), Bytes.alloc(0x10000), 0, CLIENT, SERVER)).toBe(20);
  });
});

describe('TCP format', () => {
  it('prints like tcpdump', () => {
    const synAck = repr({
      srcPort: 49152, dstPort: 80, seq: seq(1000), ack: seq(2000), flags: TcpFlag.SYN | TcpFlag.ACK, window: 64240,
      mss: 1460, sackPermitted: true, hasTimestamp: true, tsVal: 1, tsEcr: 0, windowScale: 7,
    });
    expect(formatTcp(synAck)).toBe('49152 > 80: Flags [S.], seq 1000, ack 2000, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0');
    expect(formatTcp(repr({ srcPort: 1, dstPort: 2, flags: TcpFlag.RST, seq: seq(5) }))).toBe('1 > 2: Flags [R], seq 5, win 0, length 0');
    expect(formatTcp(repr({ srcPort: 1, dstPort: 2 }))).toBe('1 > 2: Flags [none], win 0, length 0');
    expect(formatTcp(repr({ srcPort: 1, dstPort: 2, flags: TcpFlag.ACK, seq: seq(0xfffffffe), payloadLength: 4 }))).toBe(
      '1 > 2: Flags [.], seq 4294967294:2, ack 0, win 0, length 4',
    );
    expect(formatTcp(repr({ srcPort: 1, dstPort: 2, flags: TcpFlag.ACK, sackPermitted: true, blocks: [1, 2] }))).toBe(
      '1 > 2: Flags [.], ack 0, win 0, options [nop,nop,sackOK,nop,nop,sack 1 {1:2}], length 0',
    );
    expect(formatTcpFlags(0xff)).toBe('FSRP.UEW');
    expect(formatTcpFlags(TcpFlag.SYN | TcpFlag.ECE | TcpFlag.CWR)).toBe('SEW');
  });
});

describe('TCP properties', () => {
  const u16 = fc.nat({ max: 0xffff });
  const u32 = fc.nat({ max: 0xffffffff });
  const validRepr = fc
    .record({
      srcPort: u16, dstPort: u16, seq: u32, ack: u32, flags: fc.nat({ max: 0xff }), window: u16, urgent: u16,
      mss: u16, windowScale: fc.integer({ min: -1, max: 14 }), sackPermitted: fc.boolean(),
      hasTimestamp: fc.boolean(), tsVal: u32, tsEcr: u32, blocks: fc.array(u32, { maxLength: 8 }),
    })
    .map(({ blocks, seq: s, ack, ...rest }) =>
      repr({ ...rest, seq: seq(s), ack: seq(ack), tsVal: rest.hasTimestamp ? rest.tsVal : 0, tsEcr: rest.hasTimestamp ? rest.tsEcr : 0, blocks: blocks.slice(0, blocks.length & ~1) }),
    );

  it('parse(emit(r)) == r for any valid Repr (SACK blocks trimmed to what fits)', () => {
    fc.assert(
      fc.property(validRepr, fc.uint8Array({ maxLength: 40 }), fc.nat({ max: 7 }), u32, u32, (r, payload, off, s, d) => {
        r.payloadLength = payload.length;
        const b = emitA5(r, payload, off, s, d);
        const hlen = tcpHeaderLen(r);
        const back = new TcpRepr();
        expect(parseTcp(b, off, hlen + payload.length, back, s, d)).toBe(WireStatus.Ok);
        // What parse fills that emit computes: header length and checksum; SACK blocks beyond what fits are not sent.
        const want = repr({ ...r, dataOffset: hlen, checksum: b.dv.getUint16(off + 16) });
        const fixed = (r.mss > 0 ? 4 : 0) + (r.hasTimestamp ? 12 : r.sackPermitted ? 4 : 0) + (r.windowScale >= 0 ? 4 : 0);
        want.sackCount = Math.min(r.sackCount, (TCP_MAX_OPTIONS_LEN - fixed - 4) >> 3);
        want.sackBlocks.fill(0, 2 * want.sackCount);
        expect(back).toEqual(want);
        expect(hexOf(b, off + hlen + payload.length)).toBe('a5a5a5'); // nothing written past the segment
      }),
      { numRuns: 1500 },
    );
  });

  it('never throws on 10^5 random, mutated and option-fuzzed segments; Ok stays inside the bytes and re-emits', () => {
    const base = names.map((n) => ({ u8: u8Of(fx[n].hex), src: fx[n].src, dst: fx[n].dst }));
    const r = new TcpRepr();
    const again = new TcpRepr();
    const scratch = Bytes.alloc(0x200);
    let ok = 0;
    let optionsOk = 0;
    const must = (cond: boolean, what: string): void => {
      if (!cond) throw new Error(`invariant broken: ${what}`);
    };
    const option = fc.oneof(
      fc.constantFrom([0], [1], [4, 2]),
      fc.tuple(fc.constant(2), fc.nat({ max: 6 }), u16).map(([k, l, v]) => [k, l, v >> 8, v & 0xff]),
      fc.tuple(fc.constant(3), fc.nat({ max: 5 }), fc.nat({ max: 255 })).map(([k, l, v]) => [k, l, v]),
      fc.tuple(fc.constantFrom(5, 8, 30, 253), fc.nat({ max: 42 }), fc.uint8Array({ maxLength: 40 })).map(([k, l, v]) => [k, l, ...v.subarray(0, Math.max(0, l - 2))]),
      fc.uint8Array({ maxLength: 4 }).map((v) => Array.from(v)),
    );
    const optioned = fc.tuple(fc.array(option, { maxLength: 12 }), fc.uint8Array({ maxLength: 8 })).map(([opts, data]) => {
      const flat = opts.flat().slice(0, 40);
      while (flat.length % 4) flat.push(1);
      const { b, len } = withOptions(flat, data.length);
      b.u8.set(data, len - data.length);
      return b.u8;
    });
    // A fixture with one byte overwritten, or cut short, or both.
    const mutated = fc
      .record({ which: fc.nat({ max: base.length - 1 }), at: fc.nat(), value: fc.nat({ max: 255 }), edit: fc.boolean(), cut: fc.oneof(fc.constant(0), fc.nat({ max: 70 })) })
      .map(({ which, at, value, edit, cut }) => {
        const u8 = base[which].u8.slice(0, Math.max(0, base[which].u8.length - cut));
        if (u8.length > 0 && (edit || cut === 0)) u8[at % u8.length] = value;
        return u8;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 72 }), mutated, optioned), fc.nat({ max: base.length - 1 }), fc.boolean(), (u8, w, verify) => {
        const { src, dst } = base[w];
        const st = parseTcp(new Bytes(u8), 0, u8.length, r, src, dst, verify);
        must(st >= WireStatus.Ok && st <= WireStatus.Malformed, 'a status');
        if (st !== WireStatus.Ok) return;
        ok++;
        if (r.dataOffset > 20 && (r.mss | r.sackCount | (r.windowScale + 1)) !== 0) optionsOk++;
        must(r.dataOffset >= 20 && r.dataOffset <= u8.length && r.dataOffset % 4 === 0, 'header inside the bytes');
        must(r.dataOffset + r.payloadLength === u8.length, 'payload is the rest');
        must(r.sackCount >= 0 && r.sackCount <= 4 && r.windowScale >= -1 && r.windowScale <= 14, 'option ranges');
        formatTcp(r);
        // Whatever parses re-emits, and the re-emitted header parses back to the same values.
        const hlen = emitTcp(r, scratch, 0, src, dst);
        must(parseTcp(scratch, 0, hlen + r.payloadLength, again, src, dst) === WireStatus.Ok, 're-emitted segment parses');
        must(again.seq === r.seq && again.ack === r.ack && again.flags === r.flags && again.mss === r.mss && again.windowScale === r.windowScale, 'fields survive');
        must(again.tsVal === r.tsVal && again.tsEcr === r.tsEcr && again.sackPermitted === r.sackPermitted && again.sackCount <= r.sackCount, 'options survive');
      }),
      { numRuns: 100_000, seed: 9293, endOnFailure: true },
    );
    expect(ok).toBeGreaterThan(5000); // the inputs reach past the length and checksum checks
    expect(optionsOk).toBeGreaterThan(2000); // ... and into the option parser
  });
});
