/**
 * Connections by 4-tuple: an open-addressing hash table over typed arrays (linear probing,
 * backward-shift deletion). Keys are stored as int32 words, so a lookup boxes nothing and allocates
 * nothing (a Map keyed by a 48-bit number allocates a heap number per lookup). The hash is seeded
 * per engine so peers cannot aim collisions at a known function.
 */
import type { TcpSocket } from './socket';

export class ConnTable {
  private lip: Int32Array;
  private rip: Int32Array;
  private ports: Int32Array;
  private vals: (TcpSocket | null)[];
  private mask: number;
  size = 0;

  constructor(private readonly seed: number, capacity = 64) {
    this.lip = new Int32Array(capacity);
    this.rip = new Int32Array(capacity);
    this.ports = new Int32Array(capacity);
    this.vals = new Array<TcpSocket | null>(capacity).fill(null);
    this.mask = capacity - 1;
  }

  private home(lip: number, rip: number, ports: number): number {
    let h = Math.imul(lip ^ this.seed, 0x85ebca6b) ^ Math.imul(rip, 0x9e3779b1) ^ Math.imul(ports, 0xc2b2ae35);
    h ^= h >>> 15;
    h = Math.imul(h, 0x27d4eb2f);
    h ^= h >>> 13;
    return h & this.mask;
  }

  get(lip: number, lport: number, rip: number, rport: number): TcpSocket | null {
    const l = lip | 0;
    const r = rip | 0;
    const p = (lport << 16) | rport;
    const mask = this.mask;
    for (let i = this.home(l, r, p); ; i = (i + 1) & mask) {
      const v = this.vals[i];
      if (v === null) return null;
      if (this.ports[i] === p && this.lip[i] === l && this.rip[i] === r) return v;
    }
  }

  /** Adds `s` under its 4-tuple (the caller checked it is not there). */
  add(s: TcpSocket): void {
    if (2 * (this.size + 1) > this.vals.length) this.grow();
    this.put(s.localIp | 0, s.remoteIp | 0, (s.localPort << 16) | s.remotePort, s);
    this.size++;
  }

  private put(l: number, r: number, p: number, s: TcpSocket): void {
    let i = this.home(l, r, p);
    while (this.vals[i] !== null) i = (i + 1) & this.mask;
    this.lip[i] = l;
    this.rip[i] = r;
    this.ports[i] = p;
    this.vals[i] = s;
  }

  remove(s: TcpSocket): void {
    const l = s.localIp | 0;
    const r = s.remoteIp | 0;
    const p = (s.localPort << 16) | s.remotePort;
    const mask = this.mask;
    let i = this.home(l, r, p);
    for (; ; i = (i + 1) & mask) {
      const v = this.vals[i];
      if (v === null) return;
      if (v === s) break;
    }
    this.vals[i] = null;
    this.size--;
    // Backward shift: pull later entries of the probe run into the hole when their home allows.
    for (let j = (i + 1) & mask; this.vals[j] !== null; j = (j + 1) & mask) {
      const k = this.home(this.lip[j], this.rip[j], this.ports[j]);
      // Entry j may move to i when i lies cyclically in [k, j).
      const fits = i <= j ? k <= i || k > j : k <= i && k > j;
      if (!fits) continue;
      this.lip[i] = this.lip[j];
      this.rip[i] = this.rip[j];
      this.ports[i] = this.ports[j];
      this.vals[i] = this.vals[j];
      this.vals[j] = null;
      i = j;
    }
  }

  private grow(): void {
    const { lip, rip, ports, vals } = this;
    const n = vals.length * 2;
    this.lip = new Int32Array(n);
    this.rip = new Int32Array(n);
    this.ports = new Int32Array(n);
    this.vals = new Array<TcpSocket | null>(n).fill(null);
    this.mask = n - 1;
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i];
      if (v !== null) this.put(lip[i], rip[i], ports[i], v);
    }
  }
}
