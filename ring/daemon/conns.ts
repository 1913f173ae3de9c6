/**
 * ringd's TCP connection table: which client owns each TCP connection of the shared address, and
 * the little ringd needs to reset the connection for a client that died (the client's next sequence
 * number and its last acknowledgment, as seen in its own frames).
 *
 * Key: (remote IPv4, local port, remote port): the local address is ringd's one address. Open
 * addressing with linear probing over typed arrays, tombstones on delete, grown (rehashed into arrays
 * twice the size) when live + dead slots pass half the table: nothing is allocated per frame.
 *
 * Used by ring/daemon/ringd.ts for per-connection steering (a SO_REUSEPORT group's SYN picks a
 * member by hash of the 4-tuple; the rest of the connection follows the table) and for RSTs after a
 * SIGKILL. Time: `now` (ms, the poller's clock) is passed in; this file reads no clock.
 */
import { mix } from '../flow';

const EMPTY = 0;
const USED = 1;
const DEAD = 2;

/** Flag bits of an entry. */
export const enum ConnFlag {
  /** The client sent a segment: sndNxt/rcvNxt hold its sequence state. */
  Known = 1,
  /** The peer sent FIN. */
  FinIn = 2,
  /** The client sent FIN. */
  FinOut = 4,
  /** The peer sent a segment with ACK (the handshake completed, or the peer answered the client's SYN). */
  PeerAck = 8,
}

/** The hash of a TCP/UDP flow seen from ringd: (remote address, remote port, local port). */
export function flowHash(remoteIp: number, remotePort: number, localPort: number): number {
  return mix(mix(0x5eed, remoteIp | 0), (localPort << 16) | remotePort);
}

export class ConnTable {
  private cap: number;
  private state: Uint8Array;
  private ip: Int32Array;
  private ports: Int32Array;
  /** Owner client id. */
  readonly owner: Int32Array;
  readonly sndNxt: Int32Array;
  readonly rcvNxt: Int32Array;
  readonly flags: Int32Array;
  readonly lastSeen: Float64Array;
  private live = 0;
  private dead = 0;

  constructor(capacity = 1024) {
    let c = 16;
    while (c < capacity) c *= 2;
    this.cap = c;
    this.state = new Uint8Array(c);
    this.ip = new Int32Array(c);
    this.ports = new Int32Array(c);
    this.owner = new Int32Array(c);
    this.sndNxt = new Int32Array(c);
    this.rcvNxt = new Int32Array(c);
    this.flags = new Int32Array(c);
    this.lastSeen = new Float64Array(c);
  }

  get size(): number {
    return this.live;
  }

  /** Slots (for iteration with `used`, `localPort`...). */
  get capacity(): number {
    return this.cap;
  }

  used(i: number): boolean {
    return this.state[i] === USED;
  }

  remoteIp(i: number): number {
    return this.ip[i];
  }

  localPort(i: number): number {
    return this.ports[i] >>> 16;
  }

  remotePort(i: number): number {
    return this.ports[i] & 0xffff;
  }

  /** The slot of the connection, or -1. */
  find(remoteIp: number, localPort: number, remotePort: number): number {
    const ip = remoteIp | 0;
    const p = (localPort << 16) | remotePort;
    const mask = this.cap - 1;
    const st = this.state;
    for (let i = flowHash(ip, remotePort, localPort) & mask; ; i = (i + 1) & mask) {
      const s = st[i];
      if (s === EMPTY) return -1;
      if (s === USED && this.ip[i] === ip && this.ports[i] === p) return i;
    }
  }

  /** Adds a connection (the caller checked `find` first); returns its slot. */
  add(remoteIp: number, localPort: number, remotePort: number, owner: number, now: number): number {
    if ((this.live + this.dead + 1) * 2 > this.cap) this.grow();
    const ip = remoteIp | 0;
    const mask = this.cap - 1;
    const st = this.state;
    let i = flowHash(ip, remotePort, localPort) & mask;
    while (st[i] === USED) i = (i + 1) & mask;
    if (st[i] === DEAD) this.dead--;
    st[i] = USED;
    this.ip[i] = ip;
    this.ports[i] = (localPort << 16) | remotePort;
    this.owner[i] = owner;
    this.sndNxt[i] = 0;
    this.rcvNxt[i] = 0;
    this.flags[i] = 0;
    this.lastSeen[i] = now;
    this.live++;
    return i;
  }

  remove(i: number): void {
    if (this.state[i] !== USED) return;
    this.state[i] = DEAD;
    this.live--;
    this.dead++;
    if (this.live === 0) {
      this.state.fill(EMPTY);
      this.dead = 0;
    }
  }

  private grow(): void {
    // Only dead slots: rehash at the same size; else double.
    const old = { cap: this.cap, state: this.state, ip: this.ip, ports: this.ports, owner: this.owner, snd: this.sndNxt, rcv: this.rcvNxt, flags: this.flags, seen: this.lastSeen };
    const cap = this.live * 4 > this.cap ? this.cap * 2 : this.cap;
    this.cap = cap;
    this.state = new Uint8Array(cap);
    this.ip = new Int32Array(cap);
    this.ports = new Int32Array(cap);
    (this as { owner: Int32Array }).owner = new Int32Array(cap);
    (this as { sndNxt: Int32Array }).sndNxt = new Int32Array(cap);
    (this as { rcvNxt: Int32Array }).rcvNxt = new Int32Array(cap);
    (this as { flags: Int32Array }).flags = new Int32Array(cap);
    (this as { lastSeen: Float64Array }).lastSeen = new Float64Array(cap);
    this.live = 0;
    this.dead = 0;
    for (let j = 0; j < old.cap; j++) {
      if (old.state[j] !== USED) continue;
      const i = this.add(old.ip[j], old.ports[j] >>> 16, old.ports[j] & 0xffff, old.owner[j], old.seen[j]);
      this.sndNxt[i] = old.snd[j];
      this.rcvNxt[i] = old.rcv[j];
      this.flags[i] = old.flags[j];
    }
  }
}
