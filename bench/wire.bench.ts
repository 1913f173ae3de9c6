/**
 * Wire codec cost: ns per parse+emit of an Ethernet/IPv4/UDP and an Ethernet/IPv4/TCP frame, and
 * whether the heap stays flat (no allocation per frame) over 10^6 frames.
 * Run: npm run build && node --expose-gc dist/bench/wire.bench.js [frames]
 * A benchmark, not a test: numbers go to docs/benchmarks.md.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { parseIp } from '../proto/wire/addr';
import { Bytes } from '../proto/wire/bytes';
import { emitEthernet, EthernetRepr, EtherType, parseEthernet } from '../proto/wire/ethernet';
import { emitIpv4, IpProtocol, Ipv4Repr, parseIpv4 } from '../proto/wire/ipv4';
import { seq } from '../proto/wire/seq';
import { emitTcp, parseTcp, TcpFlag, TcpRepr } from '../proto/wire/tcp';
import { emitUdp, parseUdp, UdpRepr } from '../proto/wire/udp';

const N = Number(process.argv[2] ?? 1_000_000);
const src = parseIp('198.18.0.1');
const dst = parseIp('198.18.0.2');
const PAYLOAD = 64;

let gcs = 0;
new PerformanceObserver((l) => { gcs += l.getEntries().length; }).observe({ entryTypes: ['gc'] });

function run(name: string, proto: 'udp' | 'tcp'): void {
  const buf = new Bytes(new Uint8Array(2048));
  const eth = Object.assign(new EthernetRepr(), { dst: 0x0200c6120002, src: 0x0200c6120001, ethertype: EtherType.Ipv4 });
  const ip = Object.assign(new Ipv4Repr(), { src, dst, protocol: proto === 'udp' ? IpProtocol.Udp : IpProtocol.Tcp });
  const udp = Object.assign(new UdpRepr(), { srcPort: 40000, dstPort: 9, payloadLength: PAYLOAD });
  const tcp = Object.assign(new TcpRepr(), { srcPort: 40000, dstPort: 80, flags: TcpFlag.ACK | TcpFlag.PSH, window: 502, hasTimestamp: true, payloadLength: PAYLOAD });
  const rEth = new EthernetRepr();
  const rIp = new Ipv4Repr();
  const rUdp = new UdpRepr();
  const rTcp = new TcpRepr();
  let bad = 0;
  const once = (i: number): void => {
    // emit: L4 (checksum over the payload already in place), then IP, then Ethernet
    if (proto === 'udp') {
      emitUdp(udp, buf, 34, src, dst);
      ip.payloadLength = 8 + PAYLOAD;
    } else {
      tcp.seq = seq(i);
      tcp.tsVal = i;
      emitTcp(tcp, buf, 34, src, dst);
      ip.payloadLength = 32 + PAYLOAD;
    }
    ip.ident = i & 0xffff;
    emitIpv4(ip, buf, 14);
    emitEthernet(eth, buf, 0);
    // parse it back, verifying every checksum
    const len = 34 + ip.payloadLength;
    if (parseEthernet(buf, 0, len, rEth) !== 0) bad++;
    if (parseIpv4(buf, 14, len - 14, rIp) !== 0) bad++;
    if (proto === 'udp' ? parseUdp(buf, 34, rIp.payloadLength, rUdp, rIp.src, rIp.dst) !== 0 : parseTcp(buf, 34, rIp.payloadLength, rTcp, rIp.src, rIp.dst) !== 0) bad++;
  };
  for (let i = 0; i < 100_000; i++) once(i); // warm up (JIT)
  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const gc0 = gcs;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) once(i);
  const ns = Number(process.hrtime.bigint() - t0) / N;
  const heap1 = process.memoryUsage().heapUsed;
  setImmediate(() => {
    console.log(`${name}: ${ns.toFixed(1)} ns per parse+emit (${N} frames, ${PAYLOAD}-byte payload, checksums computed and verified); ` +
      `heap ${(heap0 / 1048576).toFixed(2)} → ${(heap1 / 1048576).toFixed(2)} MiB, GCs during run: ${gcs - gc0}; errors: ${bad}`);
  });
}

run('Ethernet/IPv4/UDP', 'udp');
setTimeout(() => run('Ethernet/IPv4/TCP+TS', 'tcp'), 50);
