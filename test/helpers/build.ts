/** Frame builders for tests, composed from tsvma's own emitters (so what they produce is "what tsvma emits"). */
import { ArpRepr, emitArp } from '../../proto/wire/arp';
import { Bytes } from '../../proto/wire/bytes';
import { emitEthernet, ethernetHeaderLen, EthernetRepr, EtherType } from '../../proto/wire/ethernet';
import { emitIcmp, IcmpRepr } from '../../proto/wire/icmp';
import { emitIgmp, emitIgmpV3Report, IgmpRepr, igmpV3ReportLen, type IgmpV3Record } from '../../proto/wire/igmp';
import { emitIpv4, IpProtocol, ipv4HeaderLen, Ipv4Repr } from '../../proto/wire/ipv4';
import { emitTcp, tcpHeaderLen, TcpRepr } from '../../proto/wire/tcp';
import { emitUdp, UdpRepr } from '../../proto/wire/udp';

export function eth(dst: number, src: number, ethertype: number, vlan = -1): EthernetRepr {
  return Object.assign(new EthernetRepr(), { dst, src, ethertype, vlan });
}

export function ipv4(src: number, dst: number, protocol: number, extra: Partial<Ipv4Repr> = {}): Ipv4Repr {
  return Object.assign(new Ipv4Repr(), { src, dst, protocol, ident: 1, dontFragment: true }, extra);
}

/** Ethernet + IPv4 + an L4 body written by `l4(b, off, payloadLength)`; returns the frame bytes. */
function ipFrame(e: EthernetRepr, ip: Ipv4Repr, l4len: number, l4: (b: Bytes, off: number) => void): Uint8Array {
  e.ethertype = EtherType.Ipv4;
  ip.payloadLength = l4len;
  const el = ethernetHeaderLen(e);
  const il = ipv4HeaderLen(ip);
  const b = Bytes.alloc(el + il + l4len, 0xa5);
  emitEthernet(e, b, 0);
  l4(b, el + il);
  emitIpv4(ip, b, el);
  return b.u8;
}

export function udpFrame(e: EthernetRepr, ip: Ipv4Repr, sport: number, dport: number, payload: Uint8Array, withChecksum = true): Uint8Array {
  ip.protocol = IpProtocol.Udp;
  return ipFrame(e, ip, 8 + payload.length, (b, off) => {
    b.u8.set(payload, off + 8);
    emitUdp(Object.assign(new UdpRepr(), { srcPort: sport, dstPort: dport, payloadLength: payload.length }), b, off, ip.src, ip.dst, withChecksum);
  });
}

export function tcpFrame(e: EthernetRepr, ip: Ipv4Repr, t: TcpRepr, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  ip.protocol = IpProtocol.Tcp;
  t.payloadLength = payload.length;
  const hl = tcpHeaderLen(t);
  return ipFrame(e, ip, hl + payload.length, (b, off) => {
    b.u8.set(payload, off + hl);
    emitTcp(t, b, off, ip.src, ip.dst);
  });
}

export function icmpFrame(e: EthernetRepr, ip: Ipv4Repr, m: IcmpRepr, body: Uint8Array): Uint8Array {
  ip.protocol = IpProtocol.Icmp;
  m.payloadLength = body.length;
  return ipFrame(e, ip, 8 + body.length, (b, off) => {
    b.u8.set(body, off + 8);
    emitIcmp(m, b, off);
  });
}

export function igmpFrame(e: EthernetRepr, ip: Ipv4Repr, m: IgmpRepr): Uint8Array {
  ip.protocol = IpProtocol.Igmp;
  return ipFrame(e, ip, 8, (b, off) => { emitIgmp(m, b, off); });
}

export function igmpV3ReportFrame(e: EthernetRepr, ip: Ipv4Repr, records: IgmpV3Record[]): Uint8Array {
  ip.protocol = IpProtocol.Igmp;
  return ipFrame(e, ip, igmpV3ReportLen(records), (b, off) => { emitIgmpV3Report(records, b, off); });
}

export function arpFrame(e: EthernetRepr, a: Partial<ArpRepr>): Uint8Array {
  e.ethertype = EtherType.Arp;
  const el = ethernetHeaderLen(e);
  const b = Bytes.alloc(el + 28, 0xa5);
  emitEthernet(e, b, 0);
  emitArp(Object.assign(new ArpRepr(), a), b, el);
  return b.u8;
}

/** Router Alert option (RFC 2113), as IGMP messages carry it. */
export function withRouterAlert(ip: Ipv4Repr): Ipv4Repr {
  ip.optionsLength = 4;
  ip.options.set([148, 4, 0, 0]);
  return ip;
}
