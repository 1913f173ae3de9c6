import { Bytes } from './bytes';
import { checksum, pseudoHeaderSum, sum16, updateChecksum16, updateChecksum32, finish } from './checksum';

describe('Internet checksum (RFC 1071)', () => {
  it('matches the RFC 1071 §3 worked example', () => {
    // 00 01 f2 03 f4 f5 f6 f7 -> sum ddf2 -> checksum 220d
    const b = new Bytes(Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]));
    expect(checksum(b, 0, 8)).toBe(0x220d);
  });
  it('pads an odd trailing byte with zero', () => {
    const b = new Bytes(Uint8Array.from([0x12, 0x34, 0x56]));
    expect(sum16(b, 0, 3)).toBe(0x1234 + 0x5600);
  });
  it('verifies an IPv4 header to zero', () => {
    // 198.18.0.1 -> 198.18.0.199, UDP, len 0x73, id 0, DF, TTL 64; checksum 0xad8d computed by hand.
    const hdr = Uint8Array.from([0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0xad, 0x8d, 0xc6, 0x12, 0, 1, 0xc6, 0x12, 0, 0xc7]);
    expect(checksum(new Bytes(hdr), 0, 20)).toBe(0);
  });
  it('pseudo-header sum adds the fields', () => {
    expect(pseudoHeaderSum(0x01020304, 0x05060708, 17, 8)).toBe(0x0102 + 0x0304 + 0x0506 + 0x0708 + 17 + 8);
  });
});

describe('incremental update (RFC 1624)', () => {
  it('equals recomputation after a 16-bit change', () => {
    const data = Uint8Array.from([0x45, 0, 0, 0x54, 0x1c, 0x46, 0x40, 0, 0x40, 1, 0, 0, 0xc6, 0x12, 0, 1, 0xc6, 0x12, 0, 2]);
    const b = new Bytes(data);
    const before = checksum(b, 0, 20);
    const oldTtl = b.dv.getUint16(8);
    b.dv.setUint16(8, 0x3f01);
    expect(updateChecksum16(before, oldTtl, 0x3f01)).toBe(checksum(b, 0, 20));
    const oldSrc = b.dv.getUint32(12);
    const pre = checksum(b, 0, 20);
    b.dv.setUint32(12, 0xc6130505);
    expect(updateChecksum32(pre, oldSrc, 0xc6130505)).toBe(checksum(b, 0, 20));
  });
  it('finish of an all-ones sum is zero, never 0xffff ambiguity beyond RFC', () => {
    expect(finish(0xffff)).toBe(0);
  });
});
