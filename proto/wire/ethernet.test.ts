import fc from 'fast-check';
import { frame } from '../../test/fixtures/frames';
import { a5, hex } from '../../test/helpers/wire';
import { formatMac } from './addr';
import { Bytes } from './bytes';
import { EthernetRepr, EtherType, emitEthernet, ethernetHeaderLen, formatEthernet, parseEthernet } from './ethernet';
import { WireStatus } from './status';

// Extra byte literals, made by an independent struct-based script (not tsvma code) and checked with
// tcpdump -e: "ethertype 802.1Q-QinQ (0x88a8) ... vlan 20, p 5, ethertype 802.1Q (0x8100), vlan 100"
// and "ethertype 802.1Q (0x8100) ... vlan 0, p 5, DEI, ethertype ARP (0x0806)".
const QINQ = '0200c61200020200c612000188a8a01481000064080045000024010140004001adb0c6120001c612000208005435123400016162636465666768';
const PRIORITY_TAGGED_ARP = 'ffffffffffff0200c61200018100b000080600010800060400010200c6120001c6120001000000000000c6120002';

const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));

function parsed(f: Uint8Array): EthernetRepr {
  const r = new EthernetRepr();
  expect(parseEthernet(new Bytes(f), 0, f.length, r)).toBe(WireStatus.Ok);
  return r;
}

describe('Ethernet II', () => {
  it('parses an untagged frame', () => {
    const r = parsed(frame('arpRequest'));
    expect(formatMac(r.dst)).toBe('ff:ff:ff:ff:ff:ff');
    expect(formatMac(r.src)).toBe('02:00:c6:12:00:01');
    expect(r.ethertype).toBe(EtherType.Arp);
    expect(r.vlan).toBe(-1);
    expect(ethernetHeaderLen(r)).toBe(14);
    expect(formatEthernet(r)).toBe('02:00:c6:12:00:01 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806)');
  });

  it('parses an 802.1Q tag and reports the inner ethertype', () => {
    const r = parsed(frame('udpVlan'));
    expect(r.vlan).toBe(100);
    expect(r.pcp).toBe(3);
    expect(r.dei).toBe(false);
    expect(r.ethertype).toBe(EtherType.Ipv4);
    expect(ethernetHeaderLen(r)).toBe(18);
    expect(formatEthernet(r)).toBe('02:00:c6:12:00:01 > 02:00:c6:12:00:02, vlan 100, p 3, ethertype IPv4 (0x0800)');
  });

  it('parses a priority-tagged frame (VID 0) with DEI set', () => {
    const r = parsed(fromHex(PRIORITY_TAGGED_ARP));
    expect(r.vlan).toBe(0);
    expect(r.pcp).toBe(5);
    expect(r.dei).toBe(true);
    expect(r.ethertype).toBe(EtherType.Arp);
    expect(ethernetHeaderLen(r)).toBe(18);
    expect(formatEthernet(r)).toContain('vlan 0, p 5, DEI, ethertype ARP');
  });

  it('double tagging: parses the outer 802.1ad tag and reports the inner TPID as the ethertype', () => {
    const r = parsed(fromHex(QINQ));
    expect(r.vlan).toBe(20);
    expect(r.pcp).toBe(5);
    expect(r.ethertype).toBe(EtherType.Vlan);
    expect(ethernetHeaderLen(r)).toBe(18);
    expect(formatEthernet(r)).toContain('vlan 20, p 5, ethertype 802.1Q (0x8100)');
    // The caller may peel the inner tag by parsing again 4 bytes further on.
    const f = fromHex(QINQ);
    const inner = new EthernetRepr();
    expect(parseEthernet(new Bytes(f), 4, f.length - 4, inner)).toBe(WireStatus.Ok);
    expect(inner.vlan).toBe(100);
    expect(inner.ethertype).toBe(EtherType.Ipv4);
  });

  it('emits byte-exactly into a 0xa5 buffer (tagged, untagged, priority-tagged with DEI)', () => {
    for (const f of [frame('arpRequest'), frame('udpVlan'), frame('pingRequest'), fromHex(PRIORITY_TAGGED_ARP)]) {
      const r = parsed(f);
      const out = a5(ethernetHeaderLen(r) + 2);
      expect(emitEthernet(r, out, 1)).toBe(ethernetHeaderLen(r));
      expect(hex(out.u8.subarray(1, 1 + ethernetHeaderLen(r)))).toBe(hex(f.subarray(0, ethernetHeaderLen(r))));
      expect(out.u8[0]).toBe(0xa5); // nothing written before off
      expect(out.u8[out.length - 1]).toBe(0xa5); // nor after the header
    }
  });

  it('reports truncation: shorter than 14, and a tag without its ethertype', () => {
    const r = new EthernetRepr();
    const f = frame('udpVlan');
    expect(parseEthernet(new Bytes(f), 0, 13, r)).toBe(WireStatus.Truncated);
    expect(parseEthernet(new Bytes(f), 0, 0, r)).toBe(WireStatus.Truncated);
    expect(parseEthernet(new Bytes(f), 0, 14, r)).toBe(WireStatus.Truncated);
    expect(parseEthernet(new Bytes(f), 0, 17, r)).toBe(WireStatus.Truncated);
    expect(parseEthernet(new Bytes(f), 0, 18, r)).toBe(WireStatus.Ok);
    // An untagged header of exactly 14 bytes is complete.
    expect(parseEthernet(new Bytes(frame('arpRequest')), 0, 14, r)).toBe(WireStatus.Ok);
  });

  it('keeps unknown ethertypes as values', () => {
    const f = frame('arpRequest').slice();
    f[12] = 0x88;
    f[13] = 0xcc;
    const r = parsed(f);
    expect(r.ethertype).toBe(0x88cc);
    expect(formatEthernet(r)).toContain('ethertype 0x88cc (0x88cc)');
  });

  it('leaves nothing from a previous tagged frame in the Repr', () => {
    const r = new EthernetRepr();
    const t = frame('udpVlan');
    parseEthernet(new Bytes(t), 0, t.length, r);
    const u = frame('pingRequest');
    expect(parseEthernet(new Bytes(u), 0, u.length, r)).toBe(WireStatus.Ok);
    expect({ ...r }).toEqual({ ...parsed(u) });
    expect(r.vlan).toBe(-1);
    expect(r.pcp).toBe(0);
    expect(r.dei).toBe(false);
  });

  it('property: parse(emit(repr)) == repr', () => {
    const mac = fc.integer({ min: 0, max: 0xffffffffffff });
    fc.assert(
      fc.property(
        mac, mac,
        fc.integer({ min: 0, max: 0xffff }).filter((t) => t !== EtherType.Vlan && t !== EtherType.QinQ),
        fc.integer({ min: -1, max: 4095 }), fc.integer({ min: 0, max: 7 }), fc.boolean(),
        (dst, src, ethertype, vlan, pcp, dei) => {
          const r = Object.assign(new EthernetRepr(), { dst, src, ethertype, vlan, pcp: vlan >= 0 ? pcp : 0, dei: vlan >= 0 && dei });
          const out = a5(ethernetHeaderLen(r));
          expect(emitEthernet(r, out, 0)).toBe(out.length);
          const back = new EthernetRepr();
          expect(parseEthernet(out, 0, out.length, back)).toBe(WireStatus.Ok);
          expect({ ...back }).toEqual({ ...r });
        },
      ),
      { numRuns: 500 },
    );
  });
});
