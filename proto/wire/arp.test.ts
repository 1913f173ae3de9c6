import { frame } from '../../test/fixtures/frames';
import { a5, hex } from '../../test/helpers/wire';
import { parseIp } from './addr';
import { ArpOp, ArpRepr, emitArp, formatArp, parseArp } from './arp';
import { Bytes } from './bytes';
import { WireStatus } from './status';

describe('ARP', () => {
  it('parses a request and a reply', () => {
    const req = frame('arpRequest');
    const r = new ArpRepr();
    expect(parseArp(new Bytes(req), 14, req.length - 14, r)).toBe(WireStatus.Ok);
    expect(r.op).toBe(ArpOp.Request);
    expect(r.senderIp).toBe(parseIp('198.18.0.1'));
    expect(r.targetIp).toBe(parseIp('198.18.0.2'));
    expect(r.targetMac).toBe(0);
    expect(formatArp(r)).toBe('ARP, Request who-has 198.18.0.2 tell 198.18.0.1, length 28');
    const rep = frame('arpReply');
    expect(parseArp(new Bytes(rep), 14, rep.length - 14, r)).toBe(WireStatus.Ok);
    expect(r.op).toBe(ArpOp.Reply);
    expect(formatArp(r)).toBe('ARP, Reply 198.18.0.2 is-at 02:00:c6:12:00:02, length 28');
  });
  it('emits byte-exactly', () => {
    for (const name of ['arpRequest', 'arpReply'] as const) {
      const f = frame(name);
      const r = new ArpRepr();
      parseArp(new Bytes(f), 14, 28, r);
      const out = a5(28);
      expect(emitArp(r, out, 0)).toBe(28);
      expect(hex(out.u8)).toBe(hex(f.subarray(14, 42)));
    }
  });
  it('rejects truncated, non-Ethernet/IPv4 and bad-length ARP', () => {
    const f = frame('arpRequest').slice();
    const r = new ArpRepr();
    expect(parseArp(new Bytes(f), 14, 27, r)).toBe(WireStatus.Truncated);
    f[14 + 1] = 6; // htype 6 (IEEE 802)
    expect(parseArp(new Bytes(f), 14, 28, r)).toBe(WireStatus.Unsupported);
    f[14 + 1] = 1;
    f[14 + 4] = 8; // hlen 8
    expect(parseArp(new Bytes(f), 14, 28, r)).toBe(WireStatus.Malformed);
  });
});
