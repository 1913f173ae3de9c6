/**
 * ringd's core: one Ring over the real device, shared with client processes through a shared
 * region each (shm.ts) and a Unix control socket (docs/ringd.md has the protocol and layout).
 * bin/ringd.ts builds the engine (device, ring, the stack that answers ARP and ICMP echo for the
 * shared address, the poller) and hands the ring and poller here. ring/ imports no protocol code:
 * the few header fields steering needs are read with ring/flow.ts's classifier.
 *
 * RX steering (in the ring's default sink, so nothing is allocated per frame):
 *   - IPv4 UDP/TCP, unfragmented: to the client holding the destination port in the port table
 *     (claimed when its socket binds, or learned from its own TX); else to ringd's stack, which
 *     answers as the kernel does for a closed port (bin/ringd.ts gives it UDP and TCP: ICMP port
 *     unreachable, RST).
 *   - A port claimed with `share` by several clients of one uid is a SO_REUSEPORT-style group: a
 *     UDP datagram goes to the member a hash of (source address, port) picks (multicast and
 *     broadcast to every member); a TCP SYN to the member a hash of the 4-tuple picks.
 *   - TCP connections are tracked by 4-tuple (conns.ts): a connection's segments go to the client
 *     that owns it (so a group's members joining or leaving never move one), and each of the
 *     client's own segments records its next sequence number and acknowledgment. When a client
 *     goes away, each of its open connections gets a RST with exactly that sequence number (sent
 *     by ringd's stack through `resetFlow` on the next turn).
 *   - Multicast MACs a client joined are opened on the device (`join`/`leave` requests, counted
 *     per client, closed when it goes away); group datagrams go to the port's owner.
 *   - ARP: replies to every client (each stack resolves its own next hops) and to ringd's stack;
 *     requests to ringd's stack only, which answers once for the shared address.
 *   - ICMP: echo requests to ringd's stack (one answer); anything else (echo replies, errors) to
 *     every client. IPv4 fragments go to every client (each reassembles; only the port's owner has a
 *     socket for it). Other frames to ringd's stack.
 * A frame is copied once into the client's RX ring; a full ring drops it and counts it for that
 * client (RX_DROPS), never blocking ringd or other clients.
 * TX: each poller turn drains every client's TX ring (a budget per client) into the ring's TX pool
 * (one copy) and queues it on the device. The copy is checked (txAllowed; the region may change
 * under us): source MAC the device's, IPv4 from the shared address (or ARP whose sender is both),
 * a UDP/TCP source port the client holds; anything else is dropped and counted per client
 * (`txRefused`), so a client cannot speak for another's flows or address.
 * Wake-ups: no system call per frame while both sides poll; one NUL byte on the control socket
 * only when the other side has said it sleeps (the sleeping words: shm.ts). ringd learns that its poller sleeps through its PollTarget's nextDeadline(),
 * which the poller asks only when arming its sleep; it sets RINGD_SLEEPING in every region, checks
 * the TX rings once more and, if a frame slipped in, asks for an immediate turn.
 * Faults: everything in a region is written by the client and read as hostile: indices out of
 * range resynchronise the ring (counted `txBadIndex`), bad lengths drop the frame (`txBadLength`).
 * A closed control connection (exit, SIGKILL) detaches the client at once: its ports are freed, its
 * region unmapped and unlinked. Bad control lines are answered with an error and counted.
 * Time: `now` comes from the poller (hooks); this file reads no clock and sets no timer.
 */
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Subject } from 'rxjs';
import { FlowTable, FrameClass } from '../flow';
import type { Poller, PollTarget } from '../poller';
import type { Ring } from '../ring';
import type { Region } from '../buffer_pool';
import { ConnFlag, ConnTable, flowHash } from './conns';
import { libc, SO_PEERCRED, SOL_SOCKET, UCRED_SIZE } from './libc';
import { ShmRegion, W } from './shm';

export interface RingdLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface RingdOptions {
  /** The ring over the shared device (its defaultSink is the local stack's input: kept for what no client takes). */
  ring: Ring;
  /** The poller driving `ring`. */
  poller: Poller;
  /** The control socket path (default /run/tsvma/ringd.sock). */
  socketPath: string;
  /** The address every client's stack uses (ringd's TSVMA_ADDR). */
  ip: number;
  prefix: number;
  gateway: number | null;
  /** Descriptors per client ring (power of two). Default 1024. */
  slots?: number;
  /** Bytes per frame slot. Default 2048. */
  slotSize?: number;
  /** Where client regions are created. Default /dev/shm. */
  shmDir?: string;
  /** Peers allowed besides root and ringd's own uid (SO_PEERCRED). */
  allowUids?: readonly number[];
  allowGids?: readonly number[];
  /** The control socket's group (so that its members may connect: mode 0660). Default: ringd's. */
  socketGid?: number;
  /** Frames taken from one client's TX ring per turn. Default 256. */
  txBudget?: number;
  log?: RingdLog;
  /**
   * Sends <SEQ=seq><ACK=ack><CTL=RST,ACK> from the shared address's `localPort` to the peer (bin/ringd.ts:
   * its stack's TCP); ringd calls it, from a poller turn, for each open connection of a client that died.
   */
  resetFlow?: (localPort: number, remoteIp: number, remotePort: number, seq: number, ack: number, now: number) => void;
  /** More counters for the 'stats' reply (bin/ringd.ts: the engine's ring, device, stack and poller). */
  stats?: () => Record<string, number>;
}

/**
 * A client coming or going (`Ringd.clientEvents`, an rxjs stream off the hot path: bin/ringd.ts logs
 * it through pino; tools and tests can watch it). `why` says how a client went.
 */
export type RingdClientEvent =
  | { readonly type: 'attach'; readonly client: number; readonly pid: number; readonly claimedPid: unknown; readonly uid: number; readonly shm: string }
  | { readonly type: 'detach'; readonly client: number; readonly pid: number; readonly why: string; readonly ports: number; readonly resets: number; readonly rxFrames: number; readonly txFrames: number; readonly rxDrops: number };

export interface RingdCounters {
  clientsAttached: number;
  clientsDetached: number;
  peersRefused: number;
  controlErrors: number;
  /** Frames steered to one client, to every client (ARP replies, ICMP, fragments), and to ringd's stack. */
  rxSteered: number;
  rxFanout: number;
  rxLocal: number;
  /** Frames a client's full RX ring dropped (summed over clients). */
  rxClientFull: number;
  rxTooLong: number;
  /** Client TX frames queued on the device. */
  txFrames: number;
  /** Client TX rings whose head was out of range (resynchronised), frames with an impossible length, frames from another client's port. */
  txBadIndex: number;
  txBadLength: number;
  txPortTheft: number;
  /** Client frames refused for a source MAC or IPv4 address (or ARP sender) not the device's, or another ethertype than IPv4 and ARP. */
  txBadSource: number;
  /** Client UDP/TCP frames from a port nobody holds (not a claim, not a TCP connection of the client's). */
  txPortUnheld: number;
  /** TX pool empty: the frame waits in the client's ring. */
  txNoBuffer: number;
  /** Client RX rings whose tail was out of range (treated as full). */
  rxBadTail: number;
  wakeupsSent: number;
  wakeupsReceived: number;
  /** New flows (TCP SYNs, UDP datagrams) a SO_REUSEPORT-style group steered by hash; UDP group datagrams to a multicast or broadcast address copied to every member. */
  groupHashed: number;
  groupFanout: number;
  /** TCP connections tracked (a gauge), RSTs sent for connections of clients that died, connections forgotten after their FINs. */
  tcpConns: number;
  deadResets: number;
  connsExpired: number;
  /** New connections not tracked because the table was full (MAX_CONNS). */
  connsFull: number;
}

export interface ClientCounters {
  rxFrames: number;
  rxDrops: number;
  txFrames: number;
  /** Every TX frame dropped: bad length or index, and those refused below (txRefused). */
  txBad: number;
  /** Frames refused by the source checks: not the device's MAC or the shared address, another client's port, a port nobody holds. */
  txRefused: number;
  portsLearned: number;
}

const UDP = 17;
const TCP = 6;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_ARP = 0x0806;
const ICMP_ECHO_REQUEST = 8;
const MAX_LINE = 4096;
const WAKE = Buffer.from([0]);
/** owners[] value of a port held by a group (Ringd.groups has its members). */
const GROUP = -1;
const TCP_FIN = 1;
const TCP_SYN = 2;
const TCP_RST = 4;
const TCP_ACK = 16;
/** A connection whose both FINs were seen is forgotten this long after its last segment (ms). */
const CLOSED_LINGER_MS = 2000;
/** A connection the peer never acknowledged (a SYN that went nowhere, a SYN flood) is forgotten after (ms). */
const EMBRYONIC_MS = 30000;
/** At most this many TCP connections are tracked; past it new ones are steered without an entry (and get no RST if their client dies). */
const MAX_CONNS = 1 << 20;
const SWEEP_EVERY_MS = 1000;

/** A port table index: 0..65535 UDP, 65536.. TCP; -1 for other protocols. */
const portIndex = (protocol: number, port: number): number => (protocol === UDP ? port : protocol === TCP ? 65536 + port : -1);

class Client {
  shm: ShmRegion | null = null;
  rxHead = 0;
  txTail = 0;
  pendingWake = false;
  readonly ports = new Set<number>();
  /** Multicast MACs this client opened on the device, with how many times. */
  readonly macs = new Map<number, number>();
  readonly counters: ClientCounters = { rxFrames: 0, rxDrops: 0, txFrames: 0, txBad: 0, txRefused: 0, portsLearned: 0 };
  line = '';
  constructor(readonly id: number, readonly sock: net.Socket, readonly pid: number, readonly uid: number, readonly gid: number) {}
}

/**
 * A SO_REUSEPORT-style group: clients of one uid (as Linux requires for SO_REUSEPORT) that each asked
 * to share (protocol, port). New flows are spread over the members by a hash of the 4-tuple.
 */
class Group {
  readonly members: Client[] = [];
  constructor(readonly idx: number, readonly uid: number) {}
}

const portName = (i: number): string => (i >= 65536 ? `tcp/${i - 65536}` : `udp/${i}`);

export class Ringd {
  readonly counters: RingdCounters = {
    clientsAttached: 0, clientsDetached: 0, peersRefused: 0, controlErrors: 0, rxSteered: 0, rxFanout: 0, rxLocal: 0, rxClientFull: 0, rxTooLong: 0,
    txFrames: 0, txBadIndex: 0, txBadLength: 0, txPortTheft: 0, txBadSource: 0, txPortUnheld: 0, txNoBuffer: 0, rxBadTail: 0, wakeupsSent: 0, wakeupsReceived: 0,
    groupHashed: 0, groupFanout: 0, tcpConns: 0, deadResets: 0, connsExpired: 0, connsFull: 0,
  };
  readonly socketPath: string;
  /** Attached clients (those with a region), dense for the per-turn loops. */
  private readonly clients: Client[] = [];
  private readonly byId = new Map<number, Client>();
  /** Connections refused by the credential check, until they close. */
  private readonly refused = new Set<net.Socket>();
  /** Owner (client id) per port-table index; 0 = free; GROUP: shared (see `groups`). */
  private readonly owners = new Int32Array(2 * 65536);
  private readonly groups = new Map<number, Group>();
  /** TCP connections of the shared address: owner, and the client's sequence state (for RSTs). */
  private readonly conns = new ConnTable();
  /** RSTs to send on the next poller turn (connections of clients that died): localPort, remoteIp, remotePort, seq, ack. */
  private readonly resets: number[] = [];
  private lastSweep = 0;
  private readonly ft = new FlowTable();
  private readonly ring: Ring;
  private readonly poller: Poller;
  private readonly local: ((id: number, now: number, ring: Ring) => void) | null;
  private readonly slots: number;
  private readonly slotSize: number;
  private readonly shmDir: string;
  private readonly txBudget: number;
  private readonly log: RingdLog | null;
  /** Clients attaching and detaching, in order (completes when ringd closes). */
  readonly clientEvents = new Subject<RingdClientEvent>();
  private server: net.Server | null = null;
  private nextId = 1;
  private sleepFlagged = false;
  private removeHook: (() => void) | null = null;
  private readonly target: PollTarget;
  private closed = false;
  /** The device's MAC (high 16 and low 32 bits) and the shared address, as client frames must carry them. */
  private readonly macHi: number;
  private readonly macLo: number;
  private readonly ipU32: number;

  constructor(readonly opts: RingdOptions) {
    this.ring = opts.ring;
    this.poller = opts.poller;
    this.socketPath = opts.socketPath;
    this.slots = opts.slots ?? 1024;
    this.slotSize = opts.slotSize ?? 2048;
    this.shmDir = opts.shmDir ?? '/dev/shm';
    this.txBudget = opts.txBudget ?? 256;
    this.log = opts.log ?? null;
    this.local = this.ring.defaultSink;
    const mac = this.ring.device.caps.mac;
    this.macHi = Math.floor(mac / 2 ** 32);
    this.macLo = mac % 2 ** 32;
    this.ipU32 = opts.ip >>> 0;
    if (this.slotSize < this.ring.device.caps.mtu + 18) throw new RangeError(`ringd: slotSize ${this.slotSize} cannot hold an MTU ${this.ring.device.caps.mtu} frame`);
    this.ring.defaultSink = (id, now, ring) => this.dispatch(id, now, ring);
    this.target = {
      poll: (): void => {
        if (this.sleepFlagged) this.clearSleeping();
      },
      nextDeadline: (): number => this.armSleeping(),
    };
  }

  /** Listens on the control socket (mode 0660, stale socket files of a dead ringd removed). */
  async start(): Promise<void> {
    const p = this.socketPath;
    mkdirSync(path.dirname(p), { recursive: true, mode: 0o755 });
    if (existsSync(p)) {
      if (!lstatSync(p).isSocket()) throw new Error(`ringd: ${p} exists and is not a socket; remove it or choose another --socket`);
      if (await listening(p)) throw new Error(`ringd: another ringd already listens on ${p}`);
      unlinkSync(p);
    }
    const server = net.createServer({ pauseOnConnect: false }, (s) => this.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(p, 0o660);
    if (this.opts.socketGid !== undefined) chownSync(p, process.getuid?.() ?? 0, this.opts.socketGid);
    server.on('error', (e) => this.log?.warn({ err: e.message }, 'control socket error'));
    this.server = server;
    this.poller.addTarget(this.target);
    this.removeHook = this.poller.onTick((now) => this.tick(now));
  }

  /** Client ids, pids, ports and counters (allocates; for stats and tests). */
  describe(): {
    counters: RingdCounters;
    clients: { id: number; pid: number; uid: number; ports: string[]; rxFill: number; slots: number; counters: ClientCounters }[];
    groups: { port: string; pids: number[] }[];
  } {
    this.counters.tcpConns = this.conns.size;
    return {
      counters: { ...this.counters },
      clients: this.clients.map((c) => ({
        id: c.id, pid: c.pid, uid: c.uid, counters: { ...c.counters }, ports: [...c.ports].map(portName), rxFill: this.rxFill(c), slots: this.slots,
      })),
      groups: [...this.groups.values()].map((g) => ({ port: portName(g.idx), pids: g.members.map((m) => m.pid) })),
    };
  }

  /** Frames waiting in a client's RX ring (what it has not read yet). */
  private rxFill(c: Client): number {
    if (c.shm === null) return 0;
    const used = (c.rxHead - Atomics.load(c.shm.i32, W.RxTail)) | 0;
    return used < 0 || used > this.slots ? this.slots : used;
  }

  /** Per-client numbers for statistics (lib/stats: the daemon clients section); allocates. */
  clientStats(): { id: number; pid: number; uid: number; ports: number[]; groupPorts: number; rxFill: number; slots: number; conns: number; counters: ClientCounters }[] {
    const conns = new Map<number, number>();
    const t = this.conns;
    this.counters.tcpConns = t.size;
    for (let i = 0; i < t.capacity; i++) if (t.used(i)) conns.set(t.owner[i], (conns.get(t.owner[i]) ?? 0) + 1);
    return this.clients.map((c) => ({
      id: c.id, pid: c.pid, uid: c.uid, ports: [...c.ports], groupPorts: [...c.ports].filter((i) => this.owners[i] === GROUP).length,
      rxFill: this.rxFill(c), slots: this.slots, conns: conns.get(c.id) ?? 0, counters: c.counters,
    }));
  }

  /** Stops listening, detaches every client (their regions unlinked) and removes the socket file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.removeHook?.();
    this.poller.removeTarget(this.target);
    this.ring.defaultSink = this.local;
    for (const c of [...this.byId.values()]) {
      c.sock.destroy();
      this.detach(c, 'ringd closing');
    }
    for (const s of this.refused) s.destroy();
    this.clientEvents.complete();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((r) => server.close(() => r()));
    try {
      unlinkSync(this.socketPath);
    } catch {
      // already gone
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Control

  private accept(sock: net.Socket): void {
    const cred = peerCred(sock);
    const uid = cred?.uid ?? -1;
    const gid = cred?.gid ?? -1;
    const myUid = process.getuid?.() ?? 0;
    const allowed = cred === null || uid === 0 || uid === myUid || (this.opts.allowUids ?? []).includes(uid) || (this.opts.allowGids ?? []).includes(gid);
    if (!allowed || this.closed) {
      this.counters.peersRefused++;
      this.log?.warn({ clientPid: cred?.pid, uid, gid }, 'client refused (uid/gid not allowed)');
      sock.on('error', () => undefined);
      this.refused.add(sock);
      sock.on('close', () => this.refused.delete(sock));
      sock.resume(); // read (and drop) what it sends, so the socket closes when the peer does
      sock.end(`${JSON.stringify({ ok: false, error: `uid ${uid} gid ${gid} is not allowed by this ringd (--allow-uid/--allow-gid)` })}\n`);
      return;
    }
    const c = new Client(this.nextId++, sock, cred?.pid ?? 0, uid, gid);
    this.byId.set(c.id, c);
    sock.on('data', (b: Buffer) => this.onData(c, b));
    sock.on('error', () => undefined);
    sock.on('close', () => this.detach(c, 'control socket closed'));
  }

  private onData(c: Client, b: Buffer): void {
    let start = 0;
    for (let i = 0; i < b.length; i++) {
      const ch = b[i];
      if (ch === 0 || ch === 10) {
        if (i > start) c.line += b.toString('utf8', start, i);
        start = i + 1;
        if (ch === 0) {
          this.counters.wakeupsReceived++;
          this.poller.kick();
        } else {
          const line = c.line;
          c.line = '';
          this.request(c, line);
          if (this.closed || !this.byId.has(c.id)) return;
        }
      }
    }
    if (b.length > start) c.line += b.toString('utf8', start);
    if (c.line.length > MAX_LINE) {
      this.counters.controlErrors++;
      this.log?.warn({ client: c.id, clientPid: c.pid }, 'control line too long: client dropped');
      c.sock.destroy();
      this.detach(c, 'control line too long');
    }
  }

  private reply(c: Client, r: object): void {
    if (!c.sock.destroyed) c.sock.write(`${JSON.stringify(r)}\n`);
  }

  private request(c: Client, line: string): void {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(line) as Record<string, unknown>;
      if (m === null || typeof m !== 'object') throw new Error('not an object');
    } catch {
      this.counters.controlErrors++;
      this.reply(c, { ok: false, error: 'malformed request (one JSON object per line)' });
      return;
    }
    switch (m.op) {
      case 'attach':
        return this.attach(c, m);
      case 'claim':
      case 'release': {
        const idx = portIndex(Number(m.proto), Number(m.port));
        if (c.shm === null || idx < 0 || !(Number.isInteger(m.port) && (m.port as number) > 0 && (m.port as number) <= 0xffff)) {
          this.counters.controlErrors++;
          this.reply(c, { ok: false, error: c.shm === null ? 'attach first' : 'proto must be 17 or 6 and port 1..65535' });
          return;
        }
        if (m.op === 'claim') {
          const owner = this.owners[idx];
          const share = m.share === true;
          if (owner === GROUP) {
            // A group: join it when this client asks to share too and has the group's uid (Linux's SO_REUSEPORT rule).
            const g = this.groups.get(idx)!;
            if (!share || g.uid !== c.uid) {
              this.reply(c, { ok: false, errno: 'EADDRINUSE', ownerPid: g.members[0]?.pid ?? 0, ...(share ? { why: 'group of another uid' } : {}) });
              return;
            }
            if (!g.members.includes(c)) g.members.push(c);
          } else if (owner !== 0 && owner !== c.id) {
            this.reply(c, { ok: false, errno: 'EADDRINUSE', ownerPid: this.byId.get(owner)?.pid ?? 0 });
            return;
          } else if (owner === 0 && share) {
            const g = new Group(idx, c.uid);
            g.members.push(c);
            this.groups.set(idx, g);
            this.owners[idx] = GROUP;
          } else this.owners[idx] = c.id;
          c.ports.add(idx);
        } else if (c.ports.has(idx)) this.releasePort(c, idx);
        this.reply(c, { ok: true });
        return;
      }
      case 'stats':
        this.reply(c, { ok: true, ...this.describe(), engine: this.opts.stats?.() ?? null });
        return;
      case 'join':
      case 'leave': {
        // A multicast MAC the client's stack attached (a group joined): opened on the device's filter.
        const mac = m.mac;
        if (c.shm === null || typeof mac !== 'number' || !Number.isInteger(mac) || mac < 0 || mac > 0xffffffffffff || Math.floor(mac / 2 ** 40) % 2 !== 1) {
          this.counters.controlErrors++;
          this.reply(c, { ok: false, error: c.shm === null ? 'attach first' : 'mac must be a 48-bit multicast address' });
          return;
        }
        const n = c.macs.get(mac) ?? 0;
        try {
          if (m.op === 'join') {
            this.ring.device.attachFlow({ kind: 'multicast-mac', mac });
            c.macs.set(mac, n + 1);
          } else if (n > 0) {
            this.ring.device.detachFlow({ kind: 'multicast-mac', mac });
            if (n > 1) c.macs.set(mac, n - 1);
            else c.macs.delete(mac);
          }
        } catch (e) {
          this.reply(c, { ok: false, error: (e as Error).message });
          return;
        }
        this.reply(c, { ok: true });
        return;
      }
      default:
        this.counters.controlErrors++;
        this.reply(c, { ok: false, error: `unknown op '${String(m.op)}'` });
    }
  }

  private attach(c: Client, m: Record<string, unknown>): void {
    if (c.shm !== null) {
      this.reply(c, { ok: false, error: 'already attached' });
      return;
    }
    const file = path.join(this.shmDir, `tsvma-ringd.${process.pid}.${c.id}`);
    let shm: ShmRegion;
    try {
      const root = (process.getuid?.() ?? 1) === 0;
      shm = ShmRegion.create(file, { slots: this.slots, slotSize: this.slotSize }, c.id, root && c.uid > 0 ? { uid: c.uid, gid: c.gid } : undefined);
    } catch (e) {
      this.counters.controlErrors++;
      this.reply(c, { ok: false, error: (e as Error).message });
      return;
    }
    c.shm = shm;
    this.clients.push(c);
    this.counters.clientsAttached++;
    // A sleeping ringd flagged only the regions it knew: one turn, and its next sleep flags this one too.
    this.poller.kick();
    const caps = this.ring.device.caps;
    this.clientEvents.next({ type: 'attach', client: c.id, pid: c.pid, claimedPid: m.pid, uid: c.uid, shm: file });
    this.reply(c, {
      ok: true, clientId: c.id, shm: file, slots: this.slots, slotSize: this.slotSize, mtu: caps.mtu, mac: caps.mac, device: caps.name,
      ip: this.opts.ip, prefix: this.opts.prefix, gateway: this.opts.gateway,
    });
  }

  /** Frees everything a client held; idempotent (close and error both land here). */
  private detach(c: Client, why: string): void {
    if (!this.byId.delete(c.id)) return;
    const ports = c.ports.size;
    for (const idx of [...c.ports]) this.releasePort(c, idx);
    const resets = this.forgetConns(c);
    for (const [mac, n] of c.macs) for (let k = 0; k < n; k++) this.ring.device.detachFlow({ kind: 'multicast-mac', mac });
    c.macs.clear();
    const i = this.clients.indexOf(c);
    if (i >= 0) this.clients.splice(i, 1);
    const shm = c.shm;
    c.shm = null;
    if (shm) {
      this.counters.clientsDetached++;
      shm.close();
      try {
        unlinkSync(shm.path);
      } catch {
        // already gone
      }
    }
    this.clientEvents.next({ type: 'detach', client: c.id, pid: c.pid, why, ports, resets, rxFrames: c.counters.rxFrames, txFrames: c.counters.txFrames, rxDrops: c.counters.rxDrops });
    // The RSTs go out on the next turn (where `now` is).
    if (resets > 0 && !this.closed) this.poller.kick();
  }

  /** Frees one port of a client (its own, or its place in a group). */
  private releasePort(c: Client, idx: number): void {
    c.ports.delete(idx);
    const owner = this.owners[idx];
    if (owner === c.id) this.owners[idx] = 0;
    else if (owner === GROUP) {
      const g = this.groups.get(idx)!;
      const i = g.members.indexOf(c);
      if (i >= 0) g.members.splice(i, 1);
      if (g.members.length === 0) {
        this.groups.delete(idx);
        this.owners[idx] = 0;
      }
    }
  }

  /**
   * Forgets a departing client's TCP connections and queues a RST for each one still open whose
   * sequence state ringd saw (the client's next sequence number, so the peer takes it: RFC 9293
   * §3.10.7.4, and RFC 5961's exact match). Returns how many were queued.
   */
  private forgetConns(c: Client): number {
    const t = this.conns;
    if (t.size === 0) return 0;
    let n = 0;
    for (let i = 0; i < t.capacity; i++) {
      if (!t.used(i) || t.owner[i] !== c.id) continue;
      const f = t.flags[i];
      if ((f & ConnFlag.Known) !== 0 && (f & (ConnFlag.FinIn | ConnFlag.FinOut)) !== (ConnFlag.FinIn | ConnFlag.FinOut) && !this.closed) {
        this.resets.push(t.localPort(i), t.remoteIp(i), t.remotePort(i), t.sndNxt[i], t.rcvNxt[i]);
        n++;
      }
      t.remove(i);
    }
    return n;
  }

  // ---------------------------------------------------------------------------------------------
  // Data path

  /** The ring's default sink: steers one received frame (see the file comment). */
  private dispatch(id: number, now: number, ring: Ring): void {
    const pool = ring.rxPool;
    const off = pool.start(id);
    const len = pool.end(id) - off;
    const r = pool.regionFor(id);
    // The same bytes as a Node Buffer, what deliver() copies from (Buffer#copy allocates nothing, whatever the region).
    const src = pool.bufFor(id);
    const ft = this.ft;
    const cls = ft.classify(r, off, len);
    if (cls === FrameClass.L4) {
      const k = ft.key;
      const idx = portIndex(k.protocol, k.dstPort);
      const owner = this.owners[idx];
      if (owner !== 0) {
        let c: Client | undefined;
        if (k.protocol === TCP) c = this.tcpIn(idx, owner, r, off, len, now);
        else if (owner !== GROUP) c = this.byId.get(owner);
        else {
          const g = this.groups.get(idx)!;
          if (k.dstIp !== (this.opts.ip | 0)) {
            // Multicast or broadcast to a shared UDP port: every member gets it (as Linux delivers to each socket bound to the port).
            this.counters.groupFanout++;
            for (let i = 0; i < g.members.length; i++) this.deliver(g.members[i], src, off, len);
            pool.release(id);
            return;
          }
          this.counters.groupHashed++;
          c = g.members[(flowHash(k.srcIp, k.srcPort, k.dstPort) >>> 0) % g.members.length];
        }
        if (c !== undefined && c.shm !== null) {
          this.counters.rxSteered++;
          this.deliver(c, src, off, len);
          pool.release(id);
          return;
        }
      }
    } else if (cls === FrameClass.Other && this.clients.length > 0) {
      const et = ft.ethertype;
      const dv = r.dv;
      if (et === ETHERTYPE_ARP && len >= 22 && dv.getUint16(off + 12) === ETHERTYPE_ARP) {
        if (dv.getUint16(off + 20) !== 1) this.fanout(src, off, len); // not a request: every client learns
      } else if (et === ETHERTYPE_IPV4 && len >= 34 && dv.getUint16(off + 12) === ETHERTYPE_IPV4) {
        const l3 = off + 14;
        const ihl = (dv.getUint8(l3) & 15) * 4;
        const proto = dv.getUint8(l3 + 9);
        if (proto === 1) {
          if (l3 + ihl < off + len && dv.getUint8(l3 + ihl) !== ICMP_ECHO_REQUEST) {
            this.fanout(src, off, len);
            pool.release(id);
            return;
          }
        } else if ((proto === UDP || proto === TCP) && (dv.getUint16(l3 + 6) & 0x3fff) !== 0) {
          this.fanout(src, off, len); // a fragment: every client reassembles, the owner's socket takes it
          pool.release(id);
          return;
        }
      }
    }
    this.counters.rxLocal++;
    if (this.local) this.local(id, now, ring);
    else pool.release(id);
  }

  /**
   * A TCP segment to a claimed port: the client whose connection it is (the table), else the port's
   * owner, else (a group) the member a hash of the 4-tuple picks; a SYN starts a table entry there.
   * The peer's RST ends the entry, its FIN is noted. Undefined: nobody (ringd's stack answers).
   */
  private tcpIn(idx: number, owner: number, r: Region, off: number, len: number, now: number): Client | undefined {
    const k = this.ft.key;
    const l4 = this.ft.l4;
    const flags = l4 + 20 <= off + len ? r.dv.getUint8(l4 + 13) : 0;
    const t = this.conns;
    let slot = t.find(k.srcIp, k.dstPort, k.srcPort);
    if (slot >= 0) {
      const f = t.flags[slot];
      if ((flags & (TCP_SYN | TCP_ACK)) === TCP_SYN && (f & (ConnFlag.FinIn | ConnFlag.FinOut)) === (ConnFlag.FinIn | ConnFlag.FinOut)) {
        t.remove(slot); // a new connection on the 4-tuple of one that ended (TIME-WAIT reuse): steered afresh
        slot = -1;
      } else {
        const c = this.byId.get(t.owner[slot]);
        if (flags & TCP_RST) t.remove(slot);
        else {
          t.flags[slot] = f | (flags & TCP_FIN ? ConnFlag.FinIn : 0) | (flags & TCP_ACK ? ConnFlag.PeerAck : 0);
          t.lastSeen[slot] = now;
        }
        if (c !== undefined) return c;
      }
    }
    let c: Client | undefined;
    if (owner !== GROUP) c = this.byId.get(owner);
    else {
      const g = this.groups.get(idx)!;
      c = g.members[(flowHash(k.srcIp, k.srcPort, k.dstPort) >>> 0) % g.members.length];
      if ((flags & (TCP_SYN | TCP_ACK)) === TCP_SYN) this.counters.groupHashed++;
    }
    if (c !== undefined && slot < 0 && (flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN) {
      if (t.size < MAX_CONNS) t.add(k.srcIp, k.dstPort, k.srcPort, c.id, now);
      else this.counters.connsFull++;
    }
    return c;
  }

  /**
   * A TCP segment a client sends (`slot`: its connection's entry, or -1): the entry (made on first
   * sight: its own SYN, or a connection it had before ringd saw it) learns the client's next sequence
   * number and acknowledgment; its RST ends the entry, its FIN is noted.
   */
  private tcpOut(c: Client, r: Region, off: number, len: number, now: number, slot: number): void {
    const ft = this.ft;
    const k = ft.key;
    const dv = r.dv;
    const l4 = ft.l4;
    if (l4 + 20 > off + len) return;
    const flags = dv.getUint8(l4 + 13);
    const t = this.conns;
    if (flags & TCP_RST) {
      if (slot >= 0 && t.owner[slot] === c.id) t.remove(slot);
      return;
    }
    if (slot < 0) {
      if (t.size >= MAX_CONNS) {
        this.counters.connsFull++;
        return;
      }
      slot = t.add(k.dstIp, k.srcPort, k.dstPort, c.id, now);
    } else if (t.owner[slot] !== c.id) return;
    const l3 = ft.l3;
    const payload = dv.getUint16(l3 + 2) - (l4 - l3) - (dv.getUint8(l4 + 12) >>> 4) * 4;
    const end = (dv.getInt32(l4 + 4) + (payload > 0 ? payload : 0) + (flags & TCP_SYN ? 1 : 0) + (flags & TCP_FIN ? 1 : 0)) | 0;
    let f = t.flags[slot];
    if ((f & ConnFlag.Known) === 0 || ((end - t.sndNxt[slot]) | 0) > 0) t.sndNxt[slot] = end;
    if (flags & TCP_ACK) t.rcvNxt[slot] = dv.getInt32(l4 + 8);
    f |= ConnFlag.Known;
    if (flags & TCP_FIN) f |= ConnFlag.FinOut;
    t.flags[slot] = f;
    t.lastSeen[slot] = now;
  }

  /**
   * Whether client `c` may send this frame (in ringd's TX pool at `off`): the source MAC must be the
   * device's and the frame IPv4 from the shared address, or ARP whose sender is the device's MAC
   * and the shared address; a UDP/TCP source port must be `c`'s (its claim, its group's, or for TCP
   * a connection the table gives it; a TCP port nobody holds on a connection of `c`'s becomes `c`'s,
   * counted `portsLearned`). A UDP first fragment's source port is checked as a datagram's. Refused
   * frames are counted once, by reason (`txBadSource`, `txPortTheft`, `txPortUnheld`); TCP frames let
   * through teach the connection table (tcpOut).
   */
  private txAllowed(c: Client, r: Region, off: number, len: number, now: number): boolean {
    const dv = r.dv;
    const et = dv.getUint16(off + 12);
    if (dv.getUint16(off + 6) !== this.macHi || dv.getUint32(off + 8) !== this.macLo) {
      this.counters.txBadSource++;
      return false;
    }
    if (et === ETHERTYPE_ARP) {
      // sender hardware address at 22, sender protocol address at 28 (RFC 826, Ethernet/IPv4)
      if (len >= 42 && dv.getUint16(off + 22) === this.macHi && dv.getUint32(off + 24) === this.macLo && dv.getUint32(off + 28) === this.ipU32) return true;
      this.counters.txBadSource++;
      return false;
    }
    if (et !== ETHERTYPE_IPV4 || len < 34 || dv.getUint32(off + 26) !== this.ipU32) {
      this.counters.txBadSource++;
      return false;
    }
    const ft = this.ft;
    const cls = ft.classify(r, off, len);
    let protocol: number;
    let port: number;
    if (cls === FrameClass.L4) {
      protocol = ft.key.protocol;
      port = ft.key.srcPort;
    } else {
      // A UDP datagram's first fragment (MF set, offset 0) carries its ports; other fragments and other protocols (ICMP, IGMP) none.
      const ihl = (dv.getUint8(off + 14) & 15) * 4;
      if (dv.getUint8(off + 23) !== UDP || (dv.getUint16(off + 20) & 0x3fff) !== 0x2000 || ihl < 20 || 14 + ihl + 8 > len) return true;
      protocol = UDP;
      port = dv.getUint16(off + 14 + ihl);
    }
    const idx = portIndex(protocol, port);
    const owner = this.owners[idx];
    // A TCP segment's connection entry (one lookup, for the checks here and for tcpOut).
    const tcp = cls === FrameClass.L4 && protocol === TCP;
    const slot = tcp ? this.conns.find(ft.key.dstIp, port, ft.key.dstPort) : -1;
    const conn = slot >= 0 && this.conns.owner[slot] === c.id;
    if (owner === GROUP ? !c.ports.has(idx) && !conn : owner !== 0 && owner !== c.id) {
      this.counters.txPortTheft++;
      return false;
    }
    if (owner === 0) {
      // A port nobody holds: only a TCP connection the table gives to `c` (e.g. an accepted one outliving its listener) makes it `c`'s.
      if (!conn) {
        this.counters.txPortUnheld++;
        return false;
      }
      this.owners[idx] = c.id;
      c.ports.add(idx);
      c.counters.portsLearned++;
    }
    if (tcp) this.tcpOut(c, r, off, len, now, slot);
    return true;
  }

  /** Forgets connections whose both FINs passed a while ago, those the peer never acknowledged, and those of clients gone. */
  private sweep(now: number): void {
    this.lastSweep = now;
    const t = this.conns;
    this.counters.tcpConns = t.size;
    if (t.size === 0) return;
    for (let i = 0; i < t.capacity; i++) {
      if (!t.used(i)) continue;
      const f = t.flags[i];
      const idle = now - t.lastSeen[i];
      if (((f & (ConnFlag.FinIn | ConnFlag.FinOut)) === (ConnFlag.FinIn | ConnFlag.FinOut) && idle > CLOSED_LINGER_MS)
        || ((f & ConnFlag.PeerAck) === 0 && idle > EMBRYONIC_MS) || !this.byId.has(t.owner[i])) {
        t.remove(i);
        this.counters.connsExpired++;
      }
    }
  }

  private fanout(src: Buffer, off: number, len: number): void {
    this.counters.rxFanout++;
    const cs = this.clients;
    for (let i = 0; i < cs.length; i++) this.deliver(cs[i], src, off, len);
  }

  /** Copies one frame (`src`: its RX pool region as a Buffer) into a client's RX ring (or drops it, counted, when the ring is full). */
  private deliver(c: Client, src: Buffer, off: number, len: number): void {
    const shm = c.shm!;
    const w = shm.i32;
    const head = c.rxHead;
    const used = (head - Atomics.load(w, W.RxTail)) | 0;
    if (used < 0 || used > shm.slots) this.counters.rxBadTail++;
    if (used < 0 || used >= shm.slots) {
      c.counters.rxDrops++;
      this.counters.rxClientFull++;
      w[W.RxDrops] = c.counters.rxDrops;
      return;
    }
    if (len > shm.slotSize) {
      this.counters.rxTooLong++;
      return;
    }
    const slot = head & shm.mask;
    const dst = shm.rxData + slot * shm.slotSize;
    src.copy(shm.buf, dst, off, off + len);
    w[shm.rxDescW + slot] = len;
    c.rxHead = (head + 1) | 0;
    Atomics.store(w, W.RxHead, c.rxHead);
    c.counters.rxFrames++;
    c.pendingWake = true;
  }

  /** Every poller turn, after RX: wake sleeping clients that got frames, then drain every TX ring. */
  private tick(now: number): void {
    const cs = this.clients;
    let moved = 0;
    const rs = this.resets;
    if (rs.length > 0) {
      for (let i = 0; i + 4 < rs.length; i += 5) {
        this.opts.resetFlow?.(rs[i], rs[i + 1], rs[i + 2], rs[i + 3], rs[i + 4], now);
        this.counters.deadResets++;
      }
      rs.length = 0;
      moved++;
    }
    if (now - this.lastSweep >= SWEEP_EVERY_MS) this.sweep(now);
    for (let i = 0; i < cs.length; i++) {
      const c = cs[i];
      if (c.pendingWake) {
        c.pendingWake = false;
        const w = c.shm!.i32;
        if (Atomics.load(w, W.ClientSleeping) !== 0 && Atomics.compareExchange(w, W.ClientSleeping, 1, 0) === 1) {
          c.sock.write(WAKE);
          this.counters.wakeupsSent++;
        }
      }
      moved += this.drainTx(c, now);
    }
    if (moved > 0) this.poller.touch();
  }

  private drainTx(c: Client, now: number): number {
    const shm = c.shm!;
    const w = shm.i32;
    const head = Atomics.load(w, W.TxHead);
    let tail = c.txTail;
    const avail = (head - tail) | 0;
    if (avail === 0) return 0;
    if (avail < 0 || avail > shm.slots) {
      this.counters.txBadIndex++;
      c.counters.txBad++;
      c.txTail = head;
      Atomics.store(w, W.TxTail, head);
      return 0;
    }
    const ring = this.ring;
    const pool = ring.txPool;
    const max = pool.bufSize < shm.slotSize ? pool.bufSize : shm.slotSize;
    let n = 0;
    while (tail !== head && n < this.txBudget) {
      const slot = tail & shm.mask;
      const len = w[shm.txDescW + slot];
      const src = shm.txData + slot * shm.slotSize;
      if (!(len >= 14 && len <= max)) {
        tail = (tail + 1) | 0;
        this.counters.txBadLength++;
        c.counters.txBad++;
        continue;
      }
      // Checked in ringd's own copy: the client may rewrite its slot while we look (a check of the
      // region, then a copy, would let it change the frame in between).
      const id = pool.allocCopy(shm.buf, src, len);
      if (id < 0) {
        this.counters.txNoBuffer++;
        break; // stays in the client's ring for the next turn
      }
      const pr = pool.regionFor(id);
      const off = pool.start(id);
      if (!this.txAllowed(c, pr, off, len, now)) {
        pool.release(id);
        tail = (tail + 1) | 0;
        c.counters.txRefused++;
        c.counters.txBad++;
        continue;
      }
      tail = (tail + 1) | 0;
      ring.send(id, now);
      n++;
    }
    c.txTail = tail;
    Atomics.store(w, W.TxTail, tail);
    c.counters.txFrames += n;
    this.counters.txFrames += n;
    return n;
  }

  /** The poller is arming its sleep: ask every client for a wake-up byte; 0 (run now) if TX slipped in. */
  private armSleeping(): number {
    const cs = this.clients;
    this.sleepFlagged = true;
    let due = Infinity;
    for (let i = 0; i < cs.length; i++) {
      const c = cs[i];
      const w = c.shm!.i32;
      Atomics.store(w, W.RingdSleeping, 1);
      if (Atomics.load(w, W.TxHead) !== c.txTail) due = 0;
    }
    return due;
  }

  private clearSleeping(): void {
    this.sleepFlagged = false;
    const cs = this.clients;
    for (let i = 0; i < cs.length; i++) Atomics.store(cs[i].shm!.i32, W.RingdSleeping, 0);
  }
}

/** Whether something accepts connections on the Unix socket `p`. */
function listening(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(p);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** SO_PEERCRED of an accepted Unix socket (koffi getsockopt on libuv's fd), or null when the fd is not reachable. */
function peerCred(sock: net.Socket): { pid: number; uid: number; gid: number } | null {
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return null;
  const buf = Buffer.alloc(UCRED_SIZE);
  const len = new Uint32Array([UCRED_SIZE]);
  if (libc().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, buf, len) < 0) return null;
  return { pid: buf.readInt32LE(0), uid: buf.readUInt32LE(4), gid: buf.readUInt32LE(8) };
}
