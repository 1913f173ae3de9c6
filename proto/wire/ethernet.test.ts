import { frame } from '../../test/fixtures/frames';
import { a5, hex } from '../../test/helpers/wire';
import { formatMac } from './addr';
import { Bytes } from './bytes';
import { EthernetRepr, EtherType, emitEthernet, ethernetHeaderLen, formatEthernet, parseEthernet } from './ethernet';
import { WireStatus } from './status';

describe('Ethernet II', () => {
  it('parses an untagged frame', () => {
    const f = frame('arpRequest');
    const r = new EthernetRepr();
    expect(parseEthernet(new Bytes(f), 0, f.length, r)).toBe(WireStatus.Ok);
    expect(formatMac(r.dst)).toBe('ff:ff:ff:ff:ff:ff');
    expect(formatMac(r.src)).toBe('02:00:c6:12:00:01');
    expect(r.ethertype).toBe(EtherType.Arp);
    expect(r.vlan).toBe(-1);
    expect(ethernetHeaderLen(r)).toBe(14);
  });
  it('parses an 802.1Q tag and reports the inner ethertype', () => {
    const f = frame('udpVlan');
    const r = new EthernetRepr();
    expect(parseEthernet(new Bytes(f), 0, f.length, r)).toBe(WireStatus.Ok);
    expect(r.vlan).toBe(100);
    expect(r.pcp).toBe(3);
    expect(r.dei).toBe(false);
    expect(r.ethertype).toBe(EtherType.Ipv4);
    expect(ethernetHeaderLen(r)).toBe(18);
    expect(formatEthernet(r)).toContain('vlan 100');
  });
  it('emits byte-exactly into a 0xa5 buffer (tagged and untagged)', () => {
    for (const name of ['arpRequest', 'udpVlan'] as const) {
      const f = frame(name);
      const r = new EthernetRepr();
      parseEthernet(new Bytes(f), 0, f.length, r);
      const out = a5(ethernetHeaderLen(r));
      expect(emitEthernet(r, out, 0)).toBe(ethernetHeaderLen(r));
      expect(hex(out.u8)).toBe(hex(f.subarray(0, ethernetHeaderLen(r))));
    }
  });
  it('reports truncation', () => {
    const r = new EthernetRepr();
    expect(parseEthernet(new Bytes(new Uint8Array(13)), 0, 13, r)).toBe(WireStatus.Truncated);
    const f = frame('udpVlan');
    expect(parseEthernet(new Bytes(f), 0, 16, r)).toBe(WireStatus.Truncated);
  });
  it('keeps unknown ethertypes as values', () => {
    const f = frame('arpRequest').slice();
    f[12] = 0x88;
    f[13] = 0xcc;
    const r = new EthernetRepr();
    expect(parseEthernet(new Bytes(f), 0, f.length, r)).toBe(WireStatus.Ok);
    expect(r.ethertype).toBe(0x88cc);
    expect(formatEthernet(r)).toContain('0x88cc');
  });
});
