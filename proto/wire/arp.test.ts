import fc from 'fast-check';
import { frame } from '../../test/fixtures/frames';
import { a5, hex } from '../../test/helpers/wire';
import { formatMac, parseIp } from './addr';
import { ArpOp, ArpRepr, arpHeaderLen, emitArp, formatArp, parseArp } from './arp';
import { Bytes } from './bytes';
import { WireStatus } from './status';

// A unicast ARP probe (request with the target MAC filled in); independent struct-built literal,
// tcpdump prints it as "ARP, Request who-has 198.18.0.2 (02:00:c6:12:00:02) tell 198.18.0.1, length 28".
const UNICAST_REQUEST = '0200c61200020200c6120001080600010800060400010200c6120001c61200010200c6120002c6120002';

describe('ARP', () => {
  it('parses a request and a reply', () => {
    const req = frame('arpRequest');
    const r = new ArpRepr();
    expect(parseArp(new Bytes(req), 14, req.length - 14, r)).toBe(WireStatus.Ok);
    expect(r.op).toBe(ArpOp.Request);
    expect(formatMac(r.senderMac)).toBe('02:00:c6:12:00:01');
    expect(r.senderIp).toBe(parseIp('198.18.0.1'));
    expect(r.targetIp).toBe(parseIp('198.18.0.2'));
    expect(r.targetMac).toBe(0);
    expect(formatArp(r)).toBe('ARP, Request who-has 198.18.0.2 tell 198.18.0.1, length 28');
    const rep = frame('arpReply');
    expect(parseArp(new Bytes(rep), 14, rep.length - 14, r)).toBe(WireStatus.Ok);
    expect(r.op).toBe(ArpOp.Reply);
    expect(formatMac(r.senderMac)).toBe('02:00:c6:12:00:02');
    expect(formatMac(r.targetMac)).toBe('02:00:c6:12:00:01');
    expect(r.targetIp).toBe(parseIp('198.18.0.1'));
    expect(formatArp(r)).toBe('ARP, Reply 198.18.0.2 is-at 02:00:c6:12:00:02, length 28');
  });

  it('prints a request carrying a target MAC as tcpdump does', () => {
    const f = Uint8Array.from(Buffer.from(UNICAST_REQUEST, 'hex'));
    const r = new ArpRepr();
    expect(parseArp(new Bytes(f), 14, 28, r)).toBe(WireStatus.Ok);
    expect(formatArp(r)).toBe('ARP, Request who-has 198.18.0.2 (02:00:c6:12:00:02) tell 198.18.0.1, length 28');
  });

  it('ignores Ethernet padding after the 28 bytes', () => {
    const f = new Uint8Array(60);
    f.set(frame('arpRequest'));
    f.fill(0xee, 42);
    const r = new ArpRepr();
    expect(parseArp(new Bytes(f), 14, 46, r)).toBe(WireStatus.Ok);
    expect(r.targetIp).toBe(parseIp('198.18.0.2'));
  });

  it('emits byte-exactly into a 0xa5 buffer', () => {
    for (const f of [frame('arpRequest'), frame('arpReply'), Uint8Array.from(Buffer.from(UNICAST_REQUEST, 'hex'))]) {
      const r = new ArpRepr();
      expect(parseArp(new Bytes(f), 14, 28, r)).toBe(WireStatus.Ok);
      const out = a5(30);
      expect(emitArp(r, out, 1)).toBe(28);
      expect(arpHeaderLen(r)).toBe(28);
      expect(hex(out.u8.subarray(1, 29))).toBe(hex(f.subarray(14, 42)));
      expect(out.u8[0]).toBe(0xa5);
      expect(out.u8[29]).toBe(0xa5);
    }
  });

  it('Truncated below 28 bytes', () => {
    const f = frame('arpRequest');
    const r = new ArpRepr();
    expect(parseArp(new Bytes(f), 14, 27, r)).toBe(WireStatus.Truncated);
    expect(parseArp(new Bytes(f), 14, 0, r)).toBe(WireStatus.Truncated);
  });

  it('Unsupported for any hardware type, protocol type or length other than Ethernet/IPv4', () => {
    const r = new ArpRepr();
    const cases: Array<[number, number]> = [
      [14 + 1, 6], // htype 6 (IEEE 802)
      [14 + 0, 1], // htype 0x0101
      [14 + 2, 0x86], // ptype 0x8600
      [14 + 3, 0xdd], // ptype 0x08dd
      [14 + 4, 8], // hlen 8 (InfiniBand uses 20)
      [14 + 5, 16], // plen 16
    ];
    for (const [i, v] of cases) {
      const f = frame('arpRequest').slice();
      f[i] = v;
      expect(parseArp(new Bytes(f), 14, 28, r)).toBe(WireStatus.Unsupported);
    }
  });

  it('keeps unknown opcodes as values', () => {
    const f = frame('arpRequest').slice();
    f[14 + 7] = 3; // RARP request
    const r = new ArpRepr();
    expect(parseArp(new Bytes(f), 14, 28, r)).toBe(WireStatus.Ok);
    expect(r.op).toBe(3);
    expect(formatArp(r)).toBe('ARP, op 3 198.18.0.1 (02:00:c6:12:00:01) > 198.18.0.2 (00:00:00:00:00:00), length 28');
  });

  it('property: parse(emit(repr)) == repr', () => {
    const mac = fc.integer({ min: 0, max: 0xffffffffffff });
    const ip = fc.integer({ min: 0, max: 0xffffffff });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), mac, ip, mac, ip, (op, senderMac, senderIp, targetMac, targetIp) => {
        const r = Object.assign(new ArpRepr(), { op, senderMac, senderIp, targetMac, targetIp });
        const out = a5(28);
        expect(emitArp(r, out, 0)).toBe(28);
        const back = new ArpRepr();
        expect(parseArp(out, 0, 28, back)).toBe(WireStatus.Ok);
        expect({ ...back }).toEqual({ ...r });
      }),
      { numRuns: 500 },
    );
  });
});
