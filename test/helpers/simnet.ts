/** Two (or more) stacks joined by a sim wire, driven by a fake clock. */
import { parseIp } from '../../proto/wire/addr';
import { emitIcmp, IcmpRepr, IcmpType } from '../../proto/wire/icmp';
import { IpProtocol } from '../../proto/wire/ipv4';
import { Stack, TX_HEADROOM, type StackOptions } from '../../proto/stack/stack';
import type { Interface } from '../../proto/stack/interface';
import { Ring } from '../../ring/ring';
import { SimWire, type SimWireOptions } from '../../ring/sim';

export interface Node {
  stack: Stack;
  ring: Ring;
  ifc: Interface;
}

/** Sends an ICMP echo request from a node's stack to `dst` with `size` bytes of data. */
export function sendPing(from: Node, dst: string, seq: number, now: number, size = 56): void {
  const pool = from.ring.txPool;
  const id = from.ring.allocTx(TX_HEADROOM);
  const start = pool.start(id);
  pool.buf.fill(0x61, start + 8, start + 8 + size);
  pool.append(id, 8 + size);
  emitIcmp(Object.assign(new IcmpRepr(), { type: IcmpType.EchoRequest, ident: 0x4242, seq, payloadLength: size }), from.ifc.txBytes, start);
  from.stack.sendIpv4(from.ifc, id, parseIp(dst), IpProtocol.Icmp, now);
}

export class SimNet {
  readonly wire: SimWire;
  readonly nodes: Node[] = [];
  now = 0;

  constructor(opts: SimWireOptions = {}) {
    this.wire = new SimWire(opts);
  }

  add(ip: string, mac: number, opts: StackOptions & { gateway?: string } = {}): Node {
    const ring = new Ring(this.wire.attach(mac), { rxBufs: 512, txBufs: 512 });
    const stack = new Stack(this.now, opts);
    const ifc = stack.addInterface(ring, { ip: parseIp(ip), prefix: 24, gateway: opts.gateway ? parseIp(opts.gateway) : null }, this.now);
    const n = { stack, ring, ifc };
    this.nodes.push(n);
    return n;
  }

  /** Polls every ring and stack until nothing moves (at the current time). */
  settle(): void {
    for (let i = 0; i < 1000; i++) {
      let moved = 0;
      for (const n of this.nodes) {
        moved += n.ring.poll(this.now, 64);
        n.stack.poll(this.now);
        moved += n.ring.txPending;
        n.ring.flush(this.now);
      }
      // Frames already on the wire and due now also count as movement.
      for (const n of this.nodes) if (((n.ring.device as { nextDue?: () => number }).nextDue?.() ?? Infinity) <= this.now) moved++;
      if (moved === 0) return;
    }
    throw new Error('SimNet did not settle');
  }

  /** Advances the fake clock in steps, settling at each. */
  advance(ms: number, step = 1): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now = Math.min(end, this.now + step);
      this.settle();
    }
  }

  /** Sends an ICMP echo request from `from` to `dst` with `size` bytes of data. */
  ping(from: Node, dst: string, seq: number, size = 56): void {
    sendPing(from, dst, seq, this.now, size);
  }

  /** Every RX and TX buffer of every ring is back in its pool. */
  outstanding(): number {
    let n = 0;
    for (const x of this.nodes) n += x.ring.rxPool.counters.outstanding + x.ring.txPool.counters.outstanding + x.ring.txPending;
    return n;
  }

  close(): void {
    for (const n of this.nodes) {
      n.stack.close();
      n.ring.close();
    }
  }
}
