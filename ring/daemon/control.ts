/**
 * The client's end of ringd's control socket (AF_UNIX stream), through koffi rather than
 * node:net, because attach and port claims must be synchronous: Engine.open and a socket's bind
 * return at once, so the device asks ringd and blocks (poll(2) with a timeout) for the answer.
 *
 * Protocol (docs/ringd.md): requests and replies are JSON objects, one per line; one request is in
 * flight at a time and its reply is the next line. A NUL byte (0x00) is a wake-up, in either
 * direction: never part of a line, skipped by the line reader and remembered (`wakePending`) so
 * that a wake-up that arrives during a request is not lost.
 *
 * Errors: RingdUnavailableError says what is missing and how to start ringd; a request that gets
 * no answer in time, or a closed connection, throws with the socket path.
 */
import {
  AF_UNIX, describeErrno, EACCES, EAGAIN, ECONNREFUSED, EINTR, ENOENT, errno, libc, MSG_DONTWAIT, MSG_NOSIGNAL, POLLFD_SIZE, POLLIN,
  SOCK_CLOEXEC, SOCK_STREAM, SOCKADDR_UN_SIZE, SUN_PATH_MAX,
} from './libc';

export class RingdUnavailableError extends Error {
  constructor(readonly socketPath: string, readonly errno: number, detail: string) {
    super(detail);
    this.name = 'RingdUnavailableError';
  }
}

const START_HINT = 'start it with `tsvma ringd --TSVMA_DEVICE=packet:IFNAME --TSVMA_ADDR=A.B.C.D/NN --socket PATH` (as root; docs/ringd.md)';

export type Reply = Record<string, unknown>;

export class ControlSocket {
  readonly fd: number;
  /** Wake-up bytes (NUL) were read while waiting for a reply: the caller should run its wake-up. */
  wakePending = false;
  /** ringd closed the connection (it exited or dropped this client). */
  eof = false;
  private readonly rbuf = Buffer.alloc(4096);
  private readonly wakeByte = Buffer.alloc(1);
  private readonly pfd = Buffer.alloc(POLLFD_SIZE);
  private line = '';
  private closed = false;

  constructor(readonly path: string) {
    if (Buffer.byteLength(path) > SUN_PATH_MAX) throw new RangeError(`ringd socket path too long (${Buffer.byteLength(path)} bytes, at most ${SUN_PATH_MAX}): ${path}`);
    const c = libc();
    const fd = c.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error(`socket(AF_UNIX) failed: ${describeErrno(errno())}`);
    const sa = Buffer.alloc(SOCKADDR_UN_SIZE);
    sa.writeUInt16LE(AF_UNIX, 0);
    sa.write(path, 2);
    if (c.connect(fd, sa, SOCKADDR_UN_SIZE) < 0) {
      const e = errno();
      c.close(fd);
      if (e === ENOENT) throw new RingdUnavailableError(path, e, `tsvma ringd is not running: no control socket at ${path}; ${START_HINT}`);
      if (e === ECONNREFUSED) throw new RingdUnavailableError(path, e, `tsvma ringd is not running: ${path} exists but nobody listens on it (a stale socket of a ringd that died?); ${START_HINT}`);
      if (e === EACCES) throw new RingdUnavailableError(path, e, `not allowed to connect to ringd's socket ${path} (mode 0660): run as ringd's user or a member of the socket's group`);
      throw new RingdUnavailableError(path, e, `cannot connect to ringd at ${path}: ${describeErrno(e)}`);
    }
    this.fd = fd;
    this.pfd.writeInt32LE(fd, 0);
    this.pfd.writeInt16LE(POLLIN, 4);
  }

  /** Sends one request and blocks for its reply line (failing when no byte comes for `timeoutMs`). */
  request(msg: Reply, timeoutMs = 5000): Reply {
    if (this.closed || this.eof) throw new Error(`ringd at ${this.path} closed the connection`);
    try {
      this.writeAll(Buffer.from(`${JSON.stringify(msg)}\n`));
    } catch (e) {
      // ringd may have answered and closed first (a refused peer): that answer is the better error.
      this.read();
      if (this.line.indexOf('\n') < 0) throw e;
    }
    // No clock below lib/ (STYLE rule 6): the timeout bounds each wait for a byte, not the whole reply.
    for (;;) {
      const nl = this.line.indexOf('\n');
      if (nl >= 0) {
        const text = this.line.slice(0, nl);
        this.line = this.line.slice(nl + 1);
        try {
          return JSON.parse(text) as Reply;
        } catch {
          throw new Error(`ringd at ${this.path} sent a malformed reply: ${text.slice(0, 80)}`);
        }
      }
      this.pfd.writeInt16LE(0, 6);
      const r = libc().poll(this.pfd, 1, timeoutMs);
      if (r === 0) throw new Error(`ringd at ${this.path} did not answer '${String(msg.op)}' within ${timeoutMs} ms`);
      if (r < 0 && errno() !== EINTR) throw new Error(`poll on ringd's socket failed: ${describeErrno(errno())}`);
      if (r > 0) this.read();
      if (this.eof) throw new Error(`ringd at ${this.path} closed the connection (did it exit?)`);
    }
  }

  /** Reads whatever is waiting without blocking; true when a wake-up byte came (now or during a request). Sets `eof` on a closed connection. */
  drain(): boolean {
    while (!this.eof && !this.closed && this.read() === this.rbuf.length) {
      // a full read: more may wait
    }
    const w = this.wakePending;
    this.wakePending = false;
    return w;
  }

  /** Sends one wake-up byte (never blocks: a full socket buffer already holds wake-ups). */
  wake(): void {
    if (this.closed) return;
    libc().send(this.fd, this.wakeByte, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
  }

  /** One non-blocking recv: keeps line bytes, notes NULs in `wakePending`; returns the bytes read, -1 when none. */
  private read(): number {
    const n = Number(libc().recv(this.fd, this.rbuf, this.rbuf.length, MSG_DONTWAIT));
    if (n === 0) {
      this.eof = true;
      return -1;
    }
    if (n < 0) {
      const e = errno();
      if (e !== EAGAIN && e !== EINTR) this.eof = true;
      return -1;
    }
    let start = 0;
    for (let i = 0; i < n; i++) {
      if (this.rbuf[i] === 0) {
        if (i > start) this.line += this.rbuf.toString('utf8', start, i);
        start = i + 1;
        this.wakePending = true;
      }
    }
    if (n > start) this.line += this.rbuf.toString('utf8', start, n);
    return n;
  }

  private writeAll(b: Buffer): void {
    const c = libc();
    let off = 0;
    while (off < b.length) {
      const n = Number(c.send(this.fd, off === 0 ? b : b.subarray(off), b.length - off, MSG_NOSIGNAL));
      if (n < 0) {
        const e = errno();
        if (e === EINTR) continue;
        throw new Error(`sending to ringd at ${this.path} failed: ${describeErrno(e)}`);
      }
      off += n;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc().close(this.fd);
  }
}
