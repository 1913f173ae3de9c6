/**
 * The message transport under `tsvma perf`: sockperf's messages over UDP (one datagram each, via
 * tsvma/dgram) or over TCP (`--tcp`: a byte stream via tsvma/net, cut into messages by the header's
 * length field, as sockperf does).
 *
 * TCP framing: bytes are gathered in one reassembly buffer; every whole message in it is handed to
 * the receiver as a view (valid during the call); a partial tail is moved to the front. Writes go
 * from the caller's Buffer: tsvma/net copies it into the connection at once, and libuv writes it
 * synchronously unless the kernel buffer is full, which the senders watch (`queued()`) so a
 * preallocated Buffer is never rewritten while still queued.
 */
import type { Socket as UdpSocket } from '../../lib/dgram';
import { createSocket } from '../../lib/dgram';
import * as tnet from '../../lib/net';
import type * as net from 'node:net';
import { HEADER_LEN, MAX_MSG_SIZE } from './message';

/** Where the header's length field is (message.ts). */
const LENGTH_AT = 10;

export type OnMessage = (msg: Buffer, reply: (b: Buffer, len: number) => void) => void;

/** Splits a TCP byte stream into sockperf messages. */
export class Framer {
  private buf = Buffer.allocUnsafe(2 * (MAX_MSG_SIZE + HEADER_LEN));
  private len = 0;
  /** Messages whose length field is below the header size (the stream cannot be cut further). */
  broken = false;

  constructor(private readonly onMessage: (msg: Buffer) => void) {}

  push(d: Buffer): void {
    let off = 0;
    // The common case: whole messages in `d` and nothing buffered — hand out views of `d` itself.
    if (this.len === 0) off = this.scan(d, 0, d.length);
    if (off === d.length) return;
    const rest = d.length - off;
    if (this.len + rest > this.buf.length) {
      const nb = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + rest));
      this.buf.copy(nb, 0, 0, this.len);
      this.buf = nb;
    }
    d.copy(this.buf, this.len, off);
    this.len += rest;
    const used = this.scan(this.buf, 0, this.len);
    if (used > 0) {
      this.buf.copy(this.buf, 0, used, this.len);
      this.len -= used;
    }
  }

  /** Delivers every whole message in b[off, end); returns where the first incomplete one starts. */
  private scan(b: Buffer, off: number, end: number): number {
    while (!this.broken && end - off >= HEADER_LEN) {
      const n = b.readUInt32BE(off + LENGTH_AT);
      if (n < HEADER_LEN) {
        this.broken = true;
        return end;
      }
      if (end - off < n) break;
      this.onMessage(b.subarray(off, off + n));
      off += n;
    }
    return off;
  }
}

/** A client's connection to the server: send, queued bytes/messages, close. */
export interface ClientTransport {
  readonly offloaded: boolean;
  send(b: Buffer): void;
  /** Sends or bytes still queued below the socket (the pacer waits while this is high). */
  queued(): number;
  close(): void;
}

export interface ClientEvents {
  ready(t: ClientTransport): void;
  message(msg: Buffer): void;
  error(e: Error, beforeReady: boolean): void;
}

export function openClient(tcp: boolean, ip: string, port: number, clientIp: string, clientPort: number, ev: ClientEvents): void {
  if (!tcp) {
    const s: UdpSocket = createSocket('udp4');
    let ready = false;
    s.on('message', (m: Buffer) => ev.message(m));
    s.on('error', (e: Error) => ev.error(e, !ready));
    s.once('listening', () => {
      ready = true;
      ev.ready({
        get offloaded() { return s.offloaded; },
        send: (b) => s.send(b, port, ip),
        queued: () => s.getSendQueueCount(),
        close: () => s.close(),
      });
    });
    s.bind(clientPort, clientIp);
    return;
  }
  let ready = false;
  const framer = new Framer((m) => ev.message(m));
  const opts: net.NetConnectOpts = { port, host: ip, noDelay: true };
  if (clientIp !== '0.0.0.0' || clientPort !== 0) Object.assign(opts, { localAddress: clientIp, localPort: clientPort || undefined });
  const c = tnet.connect(opts);
  c.on('data', (d: Buffer) => framer.push(d));
  c.on('error', (e: Error) => ev.error(e, !ready));
  c.once('connect', () => {
    ready = true;
    ev.ready({
      get offloaded() { return c.offloaded; },
      send: (b) => { c.write(b); },
      // In messages of any size: bytes waiting in the stream, over a small message's worth.
      queued: () => c.writableLength >> 6,
      close: () => { c.destroy(); },
    });
  });
}

export interface ServerTransport {
  readonly offloaded: boolean;
  close(cb: () => void): void;
}

/**
 * A server: calls `onMessage(msg, reply)` for every message; `reply(b, len)` sends len bytes of b
 * back to where msg came from (b may be msg itself).
 */
export function openServer(tcp: boolean, ip: string, port: number, onMessage: OnMessage, ev: { ready(t: ServerTransport): void; error(e: Error, beforeReady: boolean): void }): void {
  if (!tcp) {
    const s = createSocket('udp4');
    let ready = false;
    let rport = 0;
    let raddr = '';
    const reply = (b: Buffer, len: number): void => {
      if (len >= b.length) s.send(b, rport, raddr);
      else s.send(b, 0, len, rport, raddr);
    };
    s.on('message', (m: Buffer, r: { port: number; address: string }) => {
      rport = r.port;
      raddr = r.address;
      onMessage(m, reply);
    });
    s.on('error', (e: Error) => ev.error(e, !ready));
    s.bind(port, ip, () => {
      ready = true;
      ev.ready({ get offloaded() { return s.offloaded; }, close: (cb) => s.close(cb) });
    });
    return;
  }
  let ready = false;
  const conns = new Set<net.Socket>();
  const srv = tnet.createServer({ noDelay: true }, (c) => {
    conns.add(c);
    // Replies are copied into a rotating set of Buffers: the message view dies with the call.
    const ring: Buffer[] = [];
    let next = 0;
    const reply = (b: Buffer, len: number): void => {
      const n = Math.min(len, b.length);
      let out = ring[next];
      if (!out || out.length < n) out = ring[next] = Buffer.allocUnsafe(Math.max(n, 64));
      next = (next + 1) & 127;
      b.copy(out, 0, 0, n);
      c.write(n === out.length ? out : out.subarray(0, n));
    };
    const framer = new Framer((m) => onMessage(m, reply));
    c.on('data', (d: Buffer) => framer.push(d));
    c.on('error', () => c.destroy());
    c.on('close', () => conns.delete(c));
  });
  let offloaded = false;
  srv.on('error', (e: Error) => ev.error(e, !ready));
  srv.listen(port, ip, () => {
    ready = true;
    offloaded = !!(srv as unknown as { _handle: { offloaded?: boolean } | null })._handle?.offloaded;
    ev.ready({
      get offloaded() { return offloaded; },
      close: (cb) => {
        for (const c of conns) c.destroy();
        srv.close(() => cb());
      },
    });
  });
}
