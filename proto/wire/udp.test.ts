/**
 * UDP codec. Fixtures are UDP headers + data as byte literals:
 * - `linux` and `linuxNoChecksum` were sent by Linux (Python sockets, the second with SO_NO_CHECK)
 *   from 198.19.253.2 to 198.19.253.1 over a veth with checksum offload off, captured with tcpdump;
 * - `allOnes` was built by a separate Python struct script (its own RFC 1071 sum) by searching a
 *   2-byte payload whose checksum computes to zero, so it is sent as 0xffff; tshark calls it good.
 */
import fc from 'fast-check';
import { parseIp } from './addr';
import { Bytes } from './bytes';
import { WireStatus } from './status';
import { emitUdp, formatUdp, parseUdp, UDP_HEADER_LEN, udpHeaderLen, UdpRepr } from './udp';

const CLIENT = parseIp('198.19.253.2');
const SERVER = parseIp('198.19.253.1');

const fixtures = {
  /** 34880 > 9: UDP, length 12 ("hello, tsvma"), checksum 0xac06. */
  linux: '884000090014ac0668656c6c6f2c207473766d61',
  /** 44274 > 9: UDP, length 11 ("no checksum"), checksum field 0. */
  linuxNoChecksum: 'acf20009001300006e6f20636865636b73756d',
  /** 40000 > 9: UDP, length 2, payload dd64: the checksum computes to 0 and is sent as 0xffff. */
  allOnes: '9c400009000affffdd64',
} as const;

function bytesOf(hex: string, at = 0, tail = 0): Bytes {
  const b = Bytes.alloc(at + hex.length / 2 + tail, 0x5a);
  b.u8.set(Buffer.from(hex, 'hex'), at);
  return b;
}

function hex(b: Bytes, off = 0, len = b.length - off): string {
  return Buffer.from(b.u8.buffer, b.u8.byteOffset + off, len).toString('hex');
}

/** A 0xa5-filled buffer holding `payload` at off + 8, where emitUdp expects it. */
function a5WithPayload(off: number, payload: Uint8Array): Bytes {
  const b = Bytes.alloc(off + UDP_HEADER_LEN + payload.length + 3, 0xa5);
  b.u8.set(payload, off + UDP_HEADER_LEN);
  return b;
}

function repr(fields: Partial<UdpRepr>): UdpRepr {
  return Object.assign(new UdpRepr(), fields);
}

describe('UDP parse', () => {
  it('parses a datagram Linux sent, at an unaligned offset, and prints it like tcpdump', () => {
    const b = bytesOf(fixtures.linux, 3);
    const r = new UdpRepr();
    expect(parseUdp(b, 3, 20, r, CLIENT, SERVER)).toBe(WireStatus.Ok);
    expect(r).toEqual(repr({ srcPort: 34880, dstPort: 9, payloadLength: 12, checksum: 0xac06 }));
    expect(formatUdp(r)).toBe('34880 > 9: UDP, length 12');
  });

  it('accepts a zero checksum as "none" (RFC 768), even with the wrong addresses', () => {
    const b = bytesOf(fixtures.linuxNoChecksum);
    const r = new UdpRepr();
    expect(parseUdp(b, 0, 19, r, CLIENT, SERVER)).toBe(WireStatus.Ok);
    expect(r).toEqual(repr({ srcPort: 44274, dstPort: 9, payloadLength: 11, checksum: 0 }));
    expect(parseUdp(b, 0, 19, r, SERVER, parseIp('198.18.0.9'))).toBe(WireStatus.Ok);
  });

  it('verifies a checksum sent as 0xffff', () => {
    const r = new UdpRepr();
    expect(parseUdp(bytesOf(fixtures.allOnes), 0, 10, r, CLIENT, SERVER)).toBe(WireStatus.Ok);
    expect(r).toEqual(repr({ srcPort: 40000, dstPort: 9, payloadLength: 2, checksum: 0xffff }));
  });

  it('ignores bytes after the UDP length (IP padding), also in the checksum', () => {
    const b = bytesOf(fixtures.linux, 0, 6);
    const r = new UdpRepr();
    expect(parseUdp(b, 0, 26, r, CLIENT, SERVER)).toBe(WireStatus.Ok);
    expect(r.payloadLength).toBe(12);
  });

  it('reaches every status: Truncated, BadLength, BadChecksum', () => {
    const b = bytesOf(fixtures.linux);
    const r = new UdpRepr();
    expect(parseUdp(b, 0, 7, r, CLIENT, SERVER)).toBe(WireStatus.Truncated); // no room for the header
    expect(parseUdp(b, 0, 0, r, CLIENT, SERVER)).toBe(WireStatus.Truncated);
    expect(parseUdp(b, 0, 19, r, CLIENT, SERVER)).toBe(WireStatus.Truncated); // Length 20 > 19 bytes
    expect(parseUdp(b, 0, 20, r, CLIENT, parseIp('198.19.253.3'))).toBe(WireStatus.BadChecksum); // pseudo-header differs
    expect(parseUdp(b, 0, 20, r, SERVER, CLIENT)).toBe(WireStatus.Ok); // the sum is symmetric in src/dst
    b.u8[19] ^= 0x01; // one data bit
    expect(parseUdp(b, 0, 20, r, CLIENT, SERVER)).toBe(WireStatus.BadChecksum);
    expect(parseUdp(b, 0, 20, r, CLIENT, SERVER, false)).toBe(WireStatus.Ok); // not asked to verify
    for (const bad of [0, 1, 7]) {
      b.dv.setUint16(4, bad);
      expect(parseUdp(b, 0, 20, r, CLIENT, SERVER, false)).toBe(WireStatus.BadLength);
    }
    b.dv.setUint16(4, 8); // header only: fine
    expect(parseUdp(b, 0, 20, r, CLIENT, SERVER, false)).toBe(WireStatus.Ok);
    expect(r.payloadLength).toBe(0);
  });
});

describe('UDP emit', () => {
  it('writes the Linux datagram byte for byte into a 0xa5 buffer', () => {
    const payload = Buffer.from('hello, tsvma');
    const b = a5WithPayload(5, payload);
    expect(emitUdp(repr({ srcPort: 34880, dstPort: 9, payloadLength: 12 }), b, 5, CLIENT, SERVER)).toBe(8);
    expect(hex(b)).toBe(`a5a5a5a5a5${fixtures.linux}a5a5a5`); // nothing before or after touched
  });

  it('writes a zero checksum when asked for none', () => {
    const b = a5WithPayload(0, Buffer.from('no checksum'));
    expect(emitUdp(repr({ srcPort: 44274, dstPort: 9, payloadLength: 11 }), b, 0, CLIENT, SERVER, false)).toBe(8);
    expect(hex(b, 0, 19)).toBe(fixtures.linuxNoChecksum);
  });

  it('sends a computed zero as 0xffff (RFC 768)', () => {
    const b = a5WithPayload(0, Uint8Array.of(0xdd, 0x64));
    emitUdp(repr({ srcPort: 40000, dstPort: 9, payloadLength: 2 }), b, 0, CLIENT, SERVER);
    expect(hex(b, 0, 10)).toBe(fixtures.allOnes);
  });

  it('takes the pseudo-header addresses unsigned or as signed 32-bit (addr | 0) alike', () => {
    expect(CLIENT | 0).toBeLessThan(0); // 198.19.x.x is above 2^31
    const b = a5WithPayload(0, Buffer.from('hello, tsvma'));
    emitUdp(repr({ srcPort: 34880, dstPort: 9, payloadLength: 12 }), b, 0, CLIENT | 0, SERVER | 0);
    expect(hex(b, 0, 20)).toBe(fixtures.linux);
    expect(parseUdp(b, 0, 20, new UdpRepr(), CLIENT | 0, SERVER | 0)).toBe(WireStatus.Ok);
  });

  it('ignores the checksum a Repr carries from a parse', () => {
    const b = a5WithPayload(0, Buffer.from('hello, tsvma'));
    emitUdp(repr({ srcPort: 34880, dstPort: 9, payloadLength: 12, checksum: 0x1234 }), b, 0, CLIENT, SERVER);
    expect(hex(b, 0, 20)).toBe(fixtures.linux);
    expect(udpHeaderLen()).toBe(8);
  });

  it('throws RangeError for a Repr no header can carry', () => {
    const b = Bytes.alloc(64);
    expect(() => emitUdp(repr({ srcPort: 65536 }), b, 0, CLIENT, SERVER)).toThrow(RangeError);
    expect(() => emitUdp(repr({ dstPort: -1 }), b, 0, CLIENT, SERVER)).toThrow(RangeError);
    expect(() => emitUdp(repr({ payloadLength: -1 }), b, 0, CLIENT, SERVER)).toThrow(RangeError);
    expect(() => emitUdp(repr({ payloadLength: 65528 }), b, 0, CLIENT, SERVER)).toThrow(RangeError);
  });
});

describe('UDP properties', () => {
  it('parse(emit(r)) == r for any ports, payload and addresses, with and without checksum', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 0xffff }),
        fc.nat({ max: 0xffff }),
        fc.uint8Array({ maxLength: 64 }),
        fc.nat({ max: 0xffffffff }),
        fc.nat({ max: 0xffffffff }),
        fc.nat({ max: 7 }),
        fc.boolean(),
        (srcPort, dstPort, payload, s, d, off, withChecksum) => {
          const r = repr({ srcPort, dstPort, payloadLength: payload.length });
          const b = a5WithPayload(off, payload);
          expect(emitUdp(r, b, off, s, d, withChecksum)).toBe(8);
          const back = new UdpRepr();
          expect(parseUdp(b, off, 8 + payload.length, back, s, d)).toBe(WireStatus.Ok);
          const cs = b.dv.getUint16(off + 6);
          expect(back).toEqual(repr({ srcPort, dstPort, payloadLength: payload.length, checksum: cs }));
          expect(cs === 0).toBe(!withChecksum);
          expect(b.u8.subarray(off + 8, off + 8 + payload.length)).toEqual(payload); // data untouched
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('never throws on 10^5 random and mutated datagrams; Ok stays inside the bytes', () => {
    const base = Object.values(fixtures).map((h) => Uint8Array.from(Buffer.from(h, 'hex')));
    const r = new UdpRepr();
    let ok = 0;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 40 }),
          fc.record({ which: fc.nat({ max: base.length - 1 }), at: fc.nat(), value: fc.nat({ max: 255 }), cut: fc.nat({ max: 24 }) }).map(({ which, at, value, cut }) => {
            const u8 = base[which].slice(0, Math.max(0, base[which].length - cut));
            if (u8.length > 0) u8[at % u8.length] = value;
            return u8;
          }),
        ),
        fc.boolean(),
        (u8, verify) => {
          const st = parseUdp(new Bytes(u8), 0, u8.length, r, CLIENT, SERVER, verify);
          if (st < WireStatus.Ok || st > WireStatus.Malformed) throw new Error(`status ${st}`);
          if (st === WireStatus.Ok) {
            ok++;
            if (UDP_HEADER_LEN + r.payloadLength > u8.length) throw new Error('Ok datagram longer than its bytes');
            formatUdp(r);
          }
        },
      ),
      { numRuns: 100_000, seed: 768, endOnFailure: true },
    );
    expect(ok).toBeGreaterThan(1000); // the mutations reach past the length checks
  });
});
