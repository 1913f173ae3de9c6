/**
 * Wire codec cost, and proof that parse/emit allocate nothing per frame.
 *
 * The pseudo-header addresses are taken from Reprs, as the stack does, and passed as `addr | 0`
 * (signed 32-bit, a small integer to V8). A last run passes them unsigned, as stored: 198.18.x.x is
 * above 2^31, so V8 boxes each one into a new heap number when calling a function it does not
 * inline (parseTcp, emitTcp); that run shows what the `| 0` saves.
 *
 * For an Ethernet/IPv4/UDP frame and an Ethernet/IPv4/TCP frame (ACK+PSH with timestamps, Linux's
 * layout for data), each 10^6 times after 10^5 warm-up iterations, over one buffer and reused Reprs:
 * - emit: L4 header + checksum over header and payload (the payload is already in place), IPv4
 *   header + checksum, Ethernet header;
 * - parse: Ethernet, IPv4 (header checksum verified), UDP/TCP (checksum verified, options parsed);
 * - parse+emit: both, per frame (the headline number), with the sequence number, timestamp and IP
 *   identification changing every frame so the checksums are really recomputed.
 * Reports ns per frame, heap used before and after the parse+emit run, and the garbage collections
 * whose start falls inside it (perf_hooks 'gc' entries).
 *
 * Run: npm run build && node dist/bench/wire.bench.js [frames = 1000000] [payload bytes = 64]
 * (with --expose-gc the "before" heap is read just after a full collection). A benchmark, not a test.
 */
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { parseIp } from '../proto/wire/addr';
import { Bytes } from '../proto/wire/bytes';
import { emitEthernet, ETHERNET_HEADER_LEN, EthernetRepr, EtherType, parseEthernet } from '../proto/wire/ethernet';
import { emitIpv4, IpProtocol, IPV4_MIN_HEADER_LEN, Ipv4Repr, parseIpv4 } from '../proto/wire/ipv4';
import { seq } from '../proto/wire/seq';
import { WireStatus } from '../proto/wire/status';
import { emitTcp, parseTcp, TcpFlag, tcpHeaderLen, TcpRepr } from '../proto/wire/tcp';
import { emitUdp, parseUdp, UDP_HEADER_LEN, UdpRepr } from '../proto/wire/udp';

const FRAMES = Number(process.argv[2] ?? 1_000_000);
const PAYLOAD = Number(process.argv[3] ?? 64);
const WARMUP = 100_000;
const SRC = parseIp('198.18.0.1');
const DST = parseIp('198.18.0.2');
const L4 = ETHERNET_HEADER_LEN + IPV4_MIN_HEADER_LEN;

/** Start times (performance.now() ms) of every GC seen; read after the observer has been flushed. */
const gcStarts: number[] = [];
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcStarts.push(e.startTime);
});
observer.observe({ entryTypes: ['gc'] });

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

type Proto = 'udp' | 'tcp';

/** One frame's worth of state: the buffer, the Reprs to emit from and the Reprs to parse into. */
class Bench {
  readonly buf = Bytes.alloc(2048);
  readonly eth = Object.assign(new EthernetRepr(), { dst: 0x0200c6120002, src: 0x0200c6120001, ethertype: EtherType.Ipv4 });
  readonly ip = new Ipv4Repr();
  readonly udp = Object.assign(new UdpRepr(), { srcPort: 40000, dstPort: 9, payloadLength: PAYLOAD });
  readonly tcp = Object.assign(new TcpRepr(), {
    srcPort: 40000, dstPort: 80, ack: seq(7001), flags: TcpFlag.ACK | TcpFlag.PSH, window: 502,
    hasTimestamp: true, tsEcr: 1500, payloadLength: PAYLOAD,
  });
  readonly rEth = new EthernetRepr();
  readonly rIp = new Ipv4Repr();
  readonly rUdp = new UdpRepr();
  readonly rTcp = new TcpRepr();
  readonly len: number;
  bad = 0;

  constructor(
    readonly proto: Proto,
    /** Pass the pseudo-header addresses unsigned (boxed by V8 when above 2^31) instead of `| 0`. */
    readonly unsignedArgs = false,
  ) {
    this.ip.src = SRC;
    this.ip.dst = DST;
    this.ip.dontFragment = true;
    this.ip.protocol = proto === 'udp' ? IpProtocol.Udp : IpProtocol.Tcp;
    const l4len = (proto === 'udp' ? UDP_HEADER_LEN : tcpHeaderLen(this.tcp)) + PAYLOAD;
    this.ip.payloadLength = l4len;
    this.len = L4 + l4len;
    const payloadAt = L4 + l4len - PAYLOAD;
    for (let i = 0; i < PAYLOAD; i++) this.buf.u8[payloadAt + i] = (i * 7) & 0xff;
  }

  emit(i: number): void {
    const b = this.buf;
    const ip = this.ip;
    if (this.proto === 'udp') {
      emitUdp(this.udp, b, L4, ip.src | 0, ip.dst | 0);
    } else {
      this.tcp.seq = seq(i);
      this.tcp.tsVal = i;
      if (this.unsignedArgs) emitTcp(this.tcp, b, L4, ip.src, ip.dst);
      else emitTcp(this.tcp, b, L4, ip.src | 0, ip.dst | 0);
    }
    this.ip.ident = i & 0xffff;
    emitIpv4(this.ip, b, ETHERNET_HEADER_LEN);
    emitEthernet(this.eth, b, 0);
  }

  parse(): void {
    const b = this.buf;
    if (parseEthernet(b, 0, this.len, this.rEth) !== WireStatus.Ok) this.bad++;
    if (parseIpv4(b, ETHERNET_HEADER_LEN, this.len - ETHERNET_HEADER_LEN, this.rIp) !== WireStatus.Ok) this.bad++;
    const ip = this.rIp;
    let st: WireStatus;
    if (this.proto === 'udp') st = parseUdp(b, L4, ip.payloadLength, this.rUdp, ip.src | 0, ip.dst | 0);
    else if (this.unsignedArgs) st = parseTcp(b, L4, ip.payloadLength, this.rTcp, ip.src, ip.dst);
    else st = parseTcp(b, L4, ip.payloadLength, this.rTcp, ip.src | 0, ip.dst | 0);
    if (st !== WireStatus.Ok) this.bad++;
  }
}

function nsPer(t0: bigint, n: number): number {
  return Number(process.hrtime.bigint() - t0) / n;
}

// The measured loops are plain functions, warmed up (so optimized) before they are timed: a loop
// timed inside the async `run` would run as on-stack-replaced code, whose deopts box numbers and
// show up as garbage collections that are not the codecs'.
function emitLoop(w: Bench, n: number): void {
  for (let i = 0; i < n; i++) w.emit(i);
}

function parseLoop(w: Bench, n: number): void {
  for (let i = 0; i < n; i++) w.parse();
}

function bothLoop(w: Bench, n: number): void {
  for (let i = 0; i < n; i++) {
    w.emit(i);
    w.parse();
  }
}

async function run(name: string, proto: Proto, unsignedArgs = false): Promise<void> {
  const w = new Bench(proto, unsignedArgs);
  for (let k = 0; k < 10; k++) {
    emitLoop(w, WARMUP / 10);
    parseLoop(w, WARMUP / 10);
    bothLoop(w, WARMUP / 10);
  }
  // Emit alone, then parse alone (of the last frame emitted), then both per frame.
  await settle();
  let p = performance.now();
  let t = process.hrtime.bigint();
  emitLoop(w, FRAMES);
  const emitNs = nsPer(t, FRAMES);
  const emitSpan = [p, performance.now()];
  p = performance.now();
  t = process.hrtime.bigint();
  parseLoop(w, FRAMES);
  const parseNs = nsPer(t, FRAMES);
  const parseSpan = [p, performance.now()];

  global.gc?.();
  await settle();
  const heap0 = process.memoryUsage().heapUsed;
  const p0 = performance.now();
  t = process.hrtime.bigint();
  bothLoop(w, FRAMES);
  const bothNs = nsPer(t, FRAMES);
  const p1 = performance.now();
  const heap1 = process.memoryUsage().heapUsed;
  await settle(); // let the observer deliver the run's gc entries
  const gcsIn = (from: number, to: number): number => gcStarts.filter((s) => s >= from && s <= to).length;
  const gcs = gcsIn(p0, p1);
  const mib = (n: number): string => (n / 1048576).toFixed(2);
  console.log(
    `${name} (${w.len}-byte frame, ${PAYLOAD}-byte payload): ${bothNs.toFixed(1)} ns per parse+emit ` +
      `(emit alone ${emitNs.toFixed(1)} ns with ${gcsIn(emitSpan[0], emitSpan[1])} GCs, parse alone ${parseNs.toFixed(1)} ns with ${gcsIn(parseSpan[0], parseSpan[1])} GCs) over ${FRAMES} frames; ` +
      `heap ${mib(heap0)} -> ${mib(heap1)} MiB (${((heap1 - heap0) / FRAMES).toFixed(3)} B/frame); GCs during the run: ${gcs}; errors: ${w.bad}`,
  );
  if (w.bad !== 0) process.exitCode = 1;
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, gc ${global.gc ? 'exposed' : 'not exposed'}`);
  await run('Ethernet/IPv4/UDP', 'udp');
  await run('Ethernet/IPv4/TCP (ACK+PSH, timestamps)', 'tcp');
  await run('Ethernet/IPv4/TCP, addresses passed unsigned (boxed)', 'tcp', true);
  observer.disconnect();
}

void main();
