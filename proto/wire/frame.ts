/**
 * A whole Ethernet frame, walked layer by layer: Ethernet (802.1Q) → ARP | IPv4 → ICMP | IGMP | UDP
 * | TCP. Used by tools (`tsvma decode`), logs and tests; the stack's RX path parses layer by layer
 * itself and does not go through here. Never throws on any bytes.
 */
import { formatIp, formatMac } from './addr';
import { ArpRepr, formatArp, parseArp } from './arp';
import type { Bytes } from './bytes';
import { EthernetRepr, EtherType, ethernetHeaderLen, formatEtherType, parseEthernet } from './ethernet';
import { formatIcmp, IcmpRepr, parseIcmp } from './icmp';
import { formatIgmp, IgmpRepr, parseIgmp } from './igmp';
import { IpProtocol, ipv4HeaderLen, Ipv4Repr, isFragment, parseIpv4, protocolName } from './ipv4';
import { WireStatus, wireStatusName } from './status';
import { formatTcp, parseTcp, TcpRepr } from './tcp';
import { parseUdp, UdpRepr } from './udp';

/** Which layers of a FrameRepr hold a parsed value. */
export const enum Layer {
  None = 0,
  Ethernet = 1,
  Arp = 2,
  Ipv4 = 3,
  Icmp = 4,
  Igmp = 5,
  Udp = 6,
  Tcp = 7,
  /** An IPv4 fragment other than the first, or an unknown IP protocol: the payload is opaque. */
  Ipv4Payload = 8,
}

export class FrameRepr {
  readonly eth = new EthernetRepr();
  readonly arp = new ArpRepr();
  readonly ip = new Ipv4Repr();
  readonly icmp = new IcmpRepr();
  readonly igmp = new IgmpRepr();
  readonly udp = new UdpRepr();
  readonly tcp = new TcpRepr();
  /** The deepest layer parsed successfully. */
  top: Layer = Layer.None;
  /** Status of the first layer that failed (Ok when all present layers parsed). */
  status: WireStatus = WireStatus.Ok;
  /** The layer whose parse returned `status` when it is not Ok. */
  failedLayer: Layer = Layer.None;
  /** Offsets (absolute) of the L3 and L4 headers and of the L4 payload. */
  l3Offset = 0;
  l4Offset = 0;
  payloadOffset = 0;
  payloadLength = 0;
  /** Bytes of the frame (as captured). */
  length = 0;
}

function fail(out: FrameRepr, layer: Layer, st: WireStatus): FrameRepr {
  out.status = st;
  out.failedLayer = layer;
  return out;
}

/** Parses as many layers as the frame holds. Checksums are verified when `verifyChecksums`. */
export function parseFrame(b: Bytes, off: number, len: number, out: FrameRepr, verifyChecksums = true): FrameRepr {
  out.top = Layer.None;
  out.status = WireStatus.Ok;
  out.failedLayer = Layer.None;
  out.length = len;
  out.payloadOffset = out.l3Offset = out.l4Offset = off;
  out.payloadLength = 0;
  let st = parseEthernet(b, off, len, out.eth);
  if (st !== WireStatus.Ok) return fail(out, Layer.Ethernet, st);
  out.top = Layer.Ethernet;
  const l3 = off + ethernetHeaderLen(out.eth);
  const l3len = off + len - l3;
  out.l3Offset = l3;
  if (out.eth.ethertype === EtherType.Arp) {
    st = parseArp(b, l3, l3len, out.arp);
    if (st !== WireStatus.Ok) return fail(out, Layer.Arp, st);
    out.top = Layer.Arp;
    return out;
  }
  if (out.eth.ethertype !== EtherType.Ipv4) return out;
  st = parseIpv4(b, l3, l3len, out.ip, verifyChecksums);
  if (st !== WireStatus.Ok) return fail(out, Layer.Ipv4, st);
  out.top = Layer.Ipv4;
  const l4 = l3 + ipv4HeaderLen(out.ip);
  const l4len = out.ip.payloadLength;
  out.l4Offset = l4;
  out.payloadOffset = l4;
  out.payloadLength = l4len;
  if (out.ip.fragOffset !== 0) {
    out.top = Layer.Ipv4Payload;
    return out;
  }
  // A first fragment carries the L4 header but its checksum covers the whole datagram: parse the
  // header without verifying it.
  const verifyL4 = verifyChecksums && !isFragment(out.ip);
  switch (out.ip.protocol) {
    case IpProtocol.Icmp:
      st = parseIcmp(b, l4, l4len, out.icmp, verifyL4);
      if (st !== WireStatus.Ok) return fail(out, Layer.Icmp, st);
      out.top = Layer.Icmp;
      out.payloadOffset = l4 + 8;
      out.payloadLength = out.icmp.payloadLength;
      return out;
    case IpProtocol.Igmp:
      st = parseIgmp(b, l4, l4len, out.igmp, verifyL4);
      if (st !== WireStatus.Ok) return fail(out, Layer.Igmp, st);
      out.top = Layer.Igmp;
      return out;
    case IpProtocol.Udp:
      if (isFragment(out.ip)) {
        // The UDP length field names the whole datagram; take ports and length from the header as is.
        if (l4len < 8) return fail(out, Layer.Udp, WireStatus.Truncated);
        out.udp.srcPort = b.dv.getUint16(l4);
        out.udp.dstPort = b.dv.getUint16(l4 + 2);
        out.udp.payloadLength = Math.max(0, b.dv.getUint16(l4 + 4) - 8);
        out.udp.checksum = b.dv.getUint16(l4 + 6);
      } else {
        st = parseUdp(b, l4, l4len, out.udp, out.ip.src, out.ip.dst, verifyL4);
        if (st !== WireStatus.Ok) return fail(out, Layer.Udp, st);
      }
      out.top = Layer.Udp;
      out.payloadOffset = l4 + 8;
      out.payloadLength = Math.min(out.udp.payloadLength, l4len - 8);
      return out;
    case IpProtocol.Tcp:
      st = parseTcp(b, l4, l4len, out.tcp, out.ip.src, out.ip.dst, verifyL4);
      if (st !== WireStatus.Ok) return fail(out, Layer.Tcp, st);
      out.top = Layer.Tcp;
      out.payloadOffset = l4 + out.tcp.dataOffset;
      out.payloadLength = out.tcp.payloadLength;
      return out;
    default:
      out.top = Layer.Ipv4Payload;
      return out;
  }
}

const layerName = ['', 'ethernet', 'arp', 'ip', 'icmp', 'igmp', 'udp', 'tcp', 'ip'];
const scratch = new FrameRepr();

/** One tcpdump-like line for a frame (as `tcpdump -n -r` prints after the timestamp). */
export function formatFrame(b: Bytes, off: number, len: number, verifyChecksums = true): string {
  const f = parseFrame(b, off, len, scratch, verifyChecksums);
  const note = f.status !== WireStatus.Ok ? ` [${layerName[f.failedLayer]} ${wireStatusName[f.status]}]` : '';
  if (f.top === Layer.None) return `[|ether] length ${len}${note}`;
  const vlan = f.eth.vlan >= 0 ? `vlan ${f.eth.vlan}, ` : '';
  switch (f.eth.ethertype) {
    case EtherType.Arp:
      if (f.top !== Layer.Arp) return `${vlan}ARP, length ${len}${note}`;
      return `${vlan}${formatArp(f.arp)}`;
    case EtherType.Ipv4:
      break;
    default:
      return `${formatMac(f.eth.src)} > ${formatMac(f.eth.dst)}, ${vlan}ethertype ${formatEtherType(f.eth.ethertype)}, length ${len}`;
  }
  if (f.top < Layer.Ipv4) return `${vlan}IP, length ${len}${note}`;
  const ip = f.ip;
  const src = formatIp(ip.src);
  const dst = formatIp(ip.dst);
  const frag = isFragment(ip) ? ` (frag ${ip.ident}:${ip.payloadLength}@${ip.fragOffset}${ip.moreFragments ? '+' : ''})` : '';
  switch (f.top) {
    case Layer.Icmp:
      return `${vlan}IP ${src} > ${dst}: ${formatIcmp(f.icmp)}${frag}`;
    case Layer.Igmp:
      return `${vlan}IP ${src} > ${dst}: ${formatIgmp(f.igmp)}${frag}`;
    case Layer.Udp: {
      const u = f.udp;
      return `${vlan}IP ${src}.${u.srcPort} > ${dst}.${u.dstPort}: UDP, length ${u.payloadLength}${frag}`;
    }
    case Layer.Tcp: {
      const line = formatTcp(f.tcp);
      const colon = line.indexOf(': ');
      return `${vlan}IP ${src}.${f.tcp.srcPort} > ${dst}.${f.tcp.dstPort}: ${line.slice(colon + 2)}${frag}`;
    }
    default:
      return `${vlan}IP ${src} > ${dst}: ${protocolName(ip.protocol)}${frag}, length ${ip.payloadLength}${note}`;
  }
}

