/**
 * A whole Ethernet frame, walked layer by layer: Ethernet (802.1Q) → ARP | IPv4 → ICMP | IGMP | UDP
 * | TCP, and printed as one line the way `tcpdump -n -S -r` prints it. Used by tools (`tsvma
 * decode`), logs and tests; the stack's RX path parses layer by layer itself and does not come
 * through here. Neither the walker nor the printer throws on any bytes.
 *
 * The printer allocates strings (it is not on the data path); the walker reuses its FrameRepr.
 */
import { formatIp, formatMac } from './addr';
import { ArpRepr, formatArpBody, parseArp } from './arp';
import type { Bytes } from './bytes';
import { finish, pseudoHeaderSum, sum16 } from './checksum';
import { EthernetRepr, EtherType, ethernetHeaderLen, formatEtherType, hex16, parseEthernet } from './ethernet';
import { formatIcmp, IcmpRepr, IcmpType, IcmpUnreachCode, parseIcmp, unreachText } from './icmp';
import { formatIgmp, IgmpRepr, parseIgmp } from './igmp';
import { formatIpv4Frag, formatIpv4Header, IpProtocol, ipv4HeaderLen, Ipv4Repr, isFragment, parseIpv4, protocolName } from './ipv4';
import { WireStatus, wireStatusName } from './status';
import { formatTcpBody, parseTcp, TcpOption, TcpRepr } from './tcp';
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
  /** The deepest layer parsed. */
  top: Layer = Layer.None;
  /**
   * Why the walk stopped above the frame's deepest layer (Ok when it did not). A bad checksum does
   * not stop it: that layer is parsed without the check and its bit is set in `badChecksums`.
   */
  status: WireStatus = WireStatus.Ok;
  /** The layer whose parse returned `status` when it is not Ok. */
  failedLayer: Layer = Layer.None;
  /** Bit `1 << layer` for each layer (Ipv4, Icmp, Igmp, Udp, Tcp) whose checksum did not verify. */
  badChecksums = 0;
  /** Offsets (absolute) of the L3 and L4 headers and of the L4 payload. */
  l3Offset = 0;
  l4Offset = 0;
  payloadOffset = 0;
  payloadLength = 0;
}

/** True when every layer parsed and every checksum verified (or was not checked). */
export function frameOk(f: FrameRepr): boolean {
  return f.status === WireStatus.Ok && f.badChecksums === 0;
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
  out.badChecksums = 0;
  out.payloadOffset = out.l3Offset = out.l4Offset = off;
  out.payloadLength = 0;
  if (off < 0 || len < 0 || off + len > b.length) return fail(out, Layer.Ethernet, WireStatus.Truncated);
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
  if (st === WireStatus.BadChecksum) {
    out.badChecksums |= 1 << Layer.Ipv4;
    st = parseIpv4(b, l3, l3len, out.ip, false);
  }
  if (st === WireStatus.Truncated && ipHeaderPresent(b, l3, l3len)) {
    // The datagram is longer than the bytes here (a snap length, or a lying Total Length): the
    // header still names the addresses and protocol, so fill it in for the printer and stop.
    const claimed = b.dv.getUint16(l3 + 2);
    if (parseIpv4(b, l3, claimed, out.ip, verifyChecksums) === WireStatus.BadChecksum) {
      out.badChecksums |= 1 << Layer.Ipv4;
      parseIpv4(b, l3, claimed, out.ip, false);
    }
    out.top = Layer.Ipv4;
    return fail(out, Layer.Ipv4, WireStatus.Truncated);
  }
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
      if (st === WireStatus.BadChecksum) {
        out.badChecksums |= 1 << Layer.Icmp;
        st = parseIcmp(b, l4, l4len, out.icmp, false);
      }
      if (st !== WireStatus.Ok) return fail(out, Layer.Icmp, st);
      out.top = Layer.Icmp;
      out.payloadOffset = l4 + 8;
      out.payloadLength = out.icmp.payloadLength;
      return out;
    case IpProtocol.Igmp:
      st = parseIgmp(b, l4, l4len, out.igmp, verifyL4);
      if (st === WireStatus.BadChecksum) {
        out.badChecksums |= 1 << Layer.Igmp;
        st = parseIgmp(b, l4, l4len, out.igmp, false);
      }
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
        if (st === WireStatus.BadChecksum) {
          out.badChecksums |= 1 << Layer.Udp;
          st = parseUdp(b, l4, l4len, out.udp, out.ip.src, out.ip.dst, false);
        }
        if (st !== WireStatus.Ok) return fail(out, Layer.Udp, st);
      }
      out.top = Layer.Udp;
      out.payloadOffset = l4 + 8;
      out.payloadLength = Math.min(out.udp.payloadLength, l4len - 8);
      return out;
    case IpProtocol.Tcp:
      st = parseTcp(b, l4, l4len, out.tcp, out.ip.src, out.ip.dst, verifyL4);
      if (st === WireStatus.BadChecksum) {
        out.badChecksums |= 1 << Layer.Tcp;
        st = parseTcp(b, l4, l4len, out.tcp, out.ip.src, out.ip.dst, false);
      }
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

/** A version-4 header whose IHL is sane and whose bytes (options included) are all present. */
function ipHeaderPresent(b: Bytes, off: number, len: number): boolean {
  if (len < 20) return false;
  const vihl = b.u8[off];
  const hlen = (vihl & 0x0f) * 4;
  return vihl >>> 4 === 4 && hlen >= 20 && hlen <= len && b.dv.getUint16(off + 2) >= hlen;
}

const layerName = ['', 'ethernet', 'arp', 'ip', 'icmp', 'igmp', 'udp', 'tcp', 'ip'];
const scratch = new FrameRepr();

/**
 * The checksum field value that would have verified, for the `[bad … cksum A -> B!]` note: the
 * sum over the covered bytes with the field itself taken back out (RFC 1071 arithmetic).
 */
function expectedChecksum(f: FrameRepr, b: Bytes, layer: Layer): [number, number] {
  const ip = f.ip;
  const l4 = f.l4Offset;
  const n = ip.payloadLength;
  let field: number;
  let sum: number;
  switch (layer) {
    case Layer.Ipv4:
      field = ip.checksum;
      sum = sum16(b, f.l3Offset, ipv4HeaderLen(ip));
      break;
    case Layer.Udp: {
      const ulen = f.udp.payloadLength + 8;
      field = f.udp.checksum;
      sum = sum16(b, l4, ulen, pseudoHeaderSum(ip.src, ip.dst, IpProtocol.Udp, ulen));
      break;
    }
    case Layer.Tcp:
      field = f.tcp.checksum;
      sum = sum16(b, l4, n, pseudoHeaderSum(ip.src, ip.dst, IpProtocol.Tcp, n));
      break;
    default: // ICMP and IGMP: the whole message, no pseudo-header
      field = layer === Layer.Icmp ? f.icmp.checksum : f.igmp.checksum;
      sum = sum16(b, l4, n);
  }
  let want = finish(sum + (~field & 0xffff));
  if (layer === Layer.Udp && want === 0) want = 0xffff;
  return [field, want];
}

function checksumNotes(f: FrameRepr, b: Bytes): string {
  let s = '';
  for (const layer of [Layer.Ipv4, Layer.Icmp, Layer.Igmp, Layer.Udp, Layer.Tcp]) {
    if ((f.badChecksums & (1 << layer)) === 0) continue;
    const [got, want] = expectedChecksum(f, b, layer);
    s += ` [bad ${layerName[layer]} cksum ${hex16(got)} -> ${hex16(want)}!]`;
  }
  return s;
}

/**
 * tcpdump's options list, in wire order with nop/eol: `mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7`.
 * An option that runs past the header ends the list with `[bad opt]`.
 */
function formatTcpOptionsInOrder(b: Bytes, off: number, end: number): string {
  const u8 = b.u8;
  const dv = b.dv;
  let s = '';
  let i = off;
  while (i < end) {
    const kind = u8[i];
    if (s !== '') s += ',';
    if (kind === TcpOption.EOL) {
      s += 'eol';
      break;
    }
    if (kind === TcpOption.NOP) {
      s += 'nop';
      i++;
      continue;
    }
    const olen = i + 1 < end ? u8[i + 1] : 0;
    if (olen < 2 || i + olen > end) return `${s}[bad opt]`;
    const d = i + 2;
    switch (kind) {
      case TcpOption.MSS:
        s += olen === 4 ? `mss ${dv.getUint16(d)}` : '[bad opt]';
        break;
      case TcpOption.WindowScale:
        s += olen === 3 ? `wscale ${u8[d]}` : '[bad opt]';
        break;
      case TcpOption.SackPermitted:
        s += olen === 2 ? 'sackOK' : '[bad opt]';
        break;
      case TcpOption.Sack: {
        if ((olen - 2) % 8 !== 0) {
          s += '[bad opt]';
          break;
        }
        const n = (olen - 2) / 8;
        s += `sack ${n} `;
        for (let k = 0; k < n; k++) s += `{${dv.getUint32(d + 8 * k)}:${dv.getUint32(d + 8 * k + 4)}}`;
        break;
      }
      case TcpOption.Timestamps:
        s += olen === 10 ? `TS val ${dv.getUint32(d)} ecr ${dv.getUint32(d + 4)}` : '[bad opt]';
        break;
      default: {
        s += `unknown-${kind}`;
        if (olen > 2) s += ' 0x';
        for (let k = d; k < i + olen; k++) s += u8[k].toString(16).padStart(2, '0');
      }
    }
    i += olen;
  }
  return s;
}

/** `Flags [P.], seq 1:19, ack 7001, win 502, options [...], length 18` (tcpdump -S, absolute numbers), options in wire order. */
function tcpBody(f: FrameRepr, b: Bytes, verbose: boolean): string {
  const t = f.tcp;
  let cksum = '';
  if (verbose) {
    const bad = (f.badChecksums & (1 << Layer.Tcp)) !== 0;
    cksum = bad ? `, cksum ${hex16(t.checksum)} (incorrect -> ${hex16(expectedChecksum(f, b, Layer.Tcp)[1])})` : `, cksum ${hex16(t.checksum)} (correct)`;
  }
  const options = t.dataOffset > 20 ? formatTcpOptionsInOrder(b, f.l4Offset + 20, f.l4Offset + t.dataOffset) : '';
  return formatTcpBody(t, options, cksum);
}

/**
 * tcpdump names the quoted datagram in a destination-unreachable error: `198.18.0.2 udp port 9
 * unreachable`, `host 198.18.0.9 unreachable`, `198.18.0.2 protocol 132 unreachable`. Returns ''
 * when the quote is too short to say it, and the caller falls back to formatIcmp.
 */
function formatUnreachable(f: FrameRepr, b: Bytes): string {
  const q = f.l4Offset + 8;
  const qlen = f.icmp.payloadLength;
  if (qlen < 20 || b.u8[q] >>> 4 !== 4) return '';
  const qhl = (b.u8[q] & 0x0f) * 4;
  const proto = b.u8[q + 9];
  const dst = formatIp(b.dv.getUint32(q + 16));
  switch (f.icmp.code) {
    case IcmpUnreachCode.Net: return `ICMP net ${dst} unreachable`;
    case IcmpUnreachCode.Host: return `ICMP host ${dst} unreachable`;
    case IcmpUnreachCode.Protocol: return `ICMP ${dst} protocol ${proto} unreachable`;
    case IcmpUnreachCode.Port: {
      if (qhl < 20 || qlen < qhl + 4) return '';
      const port = b.dv.getUint16(q + qhl + 2);
      if (proto === IpProtocol.Udp) return `ICMP ${dst} udp port ${port} unreachable`;
      if (proto === IpProtocol.Tcp) return `ICMP ${dst} tcp port ${port} unreachable`;
      return `ICMP ${dst} protocol ${proto} port ${port} unreachable`;
    }
    default: {
      // formatIcmp's wording (`unreachable - need to frag (mtu 1400)`) with the destination put in, as tcpdump does.
      return `ICMP ${dst} ${unreachText(f.icmp)}`;
    }
  }
}

/**
 * One tcpdump-like line for a frame (what `tcpdump -n -S -r` prints after the timestamp), plus
 * notes tcpdump would not print without `-v`: `vlan N, ` in front of a tagged frame, `(frag
 * id:len@off+)` on fragments, `[bad udp cksum 0x1234 -> 0x5678!]`, and `[<layer> <status>]` where
 * the walk stopped (`[tcp malformed]`, `[ip truncated]`). `verbose` adds the IPv4 header
 * (`(tos 0x0, ttl 64, id 1, ...)`, as `tcpdump -v`), ARP's hardware/protocol lengths and TCP's checksum.
 */
export function formatFrame(b: Bytes, off: number, len: number, verifyChecksums = true, verbose = false): string {
  const f = parseFrame(b, off, len, scratch, verifyChecksums);
  const note = (f.status !== WireStatus.Ok ? ` [${layerName[f.failedLayer]} ${wireStatusName[f.status]}]` : '') + checksumNotes(f, b);
  if (f.top === Layer.None) return `[|ether] length ${len}${note}`;
  const vlan = f.eth.vlan >= 0 ? `vlan ${f.eth.vlan}, ` : '';
  switch (f.eth.ethertype) {
    case EtherType.Arp: {
      if (f.top !== Layer.Arp) return `${vlan}ARP, length ${len - (f.l3Offset - off)}${note}`;
      return `${vlan}ARP, ${verbose ? 'Ethernet (len 6), IPv4 (len 4), ' : ''}${formatArpBody(f.arp)}`;
    }
    case EtherType.Ipv4:
      break;
    default:
      return `${formatMac(f.eth.src)} > ${formatMac(f.eth.dst)}, ${vlan}ethertype ${formatEtherType(f.eth.ethertype)}, length ${len}`;
  }
  if (f.top < Layer.Ipv4) return `${vlan}IP, length ${len - (f.l3Offset - off)}${note}`;
  const ip = f.ip;
  const head = `${vlan}IP ${verbose ? `${formatIpv4Header(ip)} ` : ''}`;
  const src = formatIp(ip.src);
  const dst = formatIp(ip.dst);
  const frag = formatIpv4Frag(ip);
  switch (f.top) {
    case Layer.Icmp: {
      const unreach = f.icmp.type === IcmpType.DestUnreachable ? formatUnreachable(f, b) : '';
      const body = unreach ? `${unreach}, length ${8 + f.icmp.payloadLength}` : formatIcmp(f.icmp);
      return `${head}${src} > ${dst}: ${body}${frag}${note}`;
    }
    case Layer.Igmp:
      return `${head}${src} > ${dst}: ${formatIgmp(f.igmp)}${frag}${note}`;
    case Layer.Udp: {
      const u = f.udp;
      return `${head}${src}.${u.srcPort} > ${dst}.${u.dstPort}: UDP, length ${u.payloadLength}${frag}${note}`;
    }
    case Layer.Tcp:
      return `${head}${src}.${f.tcp.srcPort} > ${dst}.${f.tcp.dstPort}: ${tcpBody(f, b, verbose)}${frag}${note}`;
    default:
      return `${head}${src} > ${dst}: ${protocolName(ip.protocol)}${frag}, length ${ip.payloadLength}${note}`;
  }
}
