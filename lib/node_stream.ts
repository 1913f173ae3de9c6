/**
 * The few pieces of Node's stream-handle protocol that tsvma's TCP handles need, found at start-up.
 *
 * Read first: Node's lib/net.js and lib/internal/stream_base_commons.js (v20). A net.Socket talks to
 * its `_handle` (a libuv TCPWrap) through a small protocol: readStart/readStop, writeBuffer/writev/
 * write*String(req, …) returning a status and leaving the bytes written and "was async" in the
 * shared `streamBaseState` array, shutdown(req) and connect(req, …) completing through
 * `req.oncomplete`, and reads delivered by calling `handle.onread(arrayBuffer)` with the length (or
 * a negative errno, or UV_EOF) in `streamBaseState`. A handle object that speaks it gets all of
 * net.Socket's own behaviour — events, their order and timing, errors and their messages — which is
 * how tsvma's sockets are "Node's net exactly".
 *
 * Node keeps two of the names private: the symbol under which a handle points to its socket, and
 * the `onStreamRead` function it installs. Both are read once here from a probe socket built over
 * a plain object (nothing native is touched).
 */
import * as net from 'node:net';

interface StreamWrapBinding {
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kBytesWritten: number;
  kLastWriteWasAsync: number;
}
interface TcpWrapBinding {
  TCP: new (type: number) => object;
  constants: { SOCKET: number; SERVER: number };
}

type Binding = (name: string) => unknown;
const binding = (process as unknown as { binding: Binding }).binding.bind(process);
const streamWrap = binding('stream_wrap') as StreamWrapBinding;
const tcpWrap = binding('tcp_wrap') as TcpWrapBinding;

/** Node's own TCP handle class (net's resetAndDestroy insists on `instanceof TCP`). */
export const TCP = tcpWrap.TCP;
export const TCP_SOCKET = tcpWrap.constants.SOCKET;

const state = streamWrap.streamBaseState;
const READ = streamWrap.kReadBytesOrError;
const OFFSET = streamWrap.kArrayBufferOffset;
const WRITTEN = streamWrap.kBytesWritten;
const ASYNC = streamWrap.kLastWriteWasAsync;

/** libuv's end-of-stream code. */
export const UV_EOF = -4095;

/** Reports a finished write (stream_base_commons reads these right after the call returns). */
export function setWriteResult(bytes: number, async: boolean): void {
  state[WRITTEN] = bytes;
  state[ASYNC] = async ? 1 : 0;
}

/** Sets what the next `handle.onread(…)` call delivers: a byte count at `offset`, 0, a negative errno or UV_EOF. */
export function setReadResult(nread: number, offset = 0): void {
  state[READ] = nread;
  state[OFFSET] = offset;
}

type OnRead = (this: object, arrayBuffer: ArrayBuffer | undefined) => void;

const probe: Record<string | symbol, unknown> = {
  getAsyncId: () => 0, readStart: () => 0, readStop: () => 0, close: () => undefined,
};
const probeSocket = new net.Socket({ handle: probe, readable: false, writable: false } as unknown as net.SocketConstructorOpts);
const symbolNamed = (o: object, description: string): symbol => {
  const s = Object.getOwnPropertySymbols(o).find((x) => x.description === description);
  if (!s) throw new Error(`tsvma/net: this Node.js (${process.version}) has no ${description} on its sockets; tsvma needs Node 20 or later`);
  return s;
};
/** The symbol under which a handle refers to its net.Socket or net.Server. */
export const OWNER = symbolNamed(probe, 'owner_symbol');
/** net.Socket's async id slot. */
export const ASYNC_ID = symbolNamed(probeSocket, 'async_id_symbol');
/** The `onread` user-buffer option's buffer and generator slots. */
export const K_BUFFER = symbolNamed(probeSocket, 'kBuffer');
export const K_BUFFER_GEN = symbolNamed(probeSocket, 'kBufferGen');
/** Node's `onStreamRead`, which every socket handle calls with what it read. */
export const onStreamRead = probe.onread as OnRead;
if (typeof onStreamRead !== 'function') throw new Error(`tsvma/net: this Node.js (${process.version}) did not install onread on a socket handle`);

/** A system error's name and message as libuv gives them (`ECONNREFUSED`, `connection refused`). */
export { getSystemErrorMap } from 'node:util';

/**
 * Points `handle` at `socket` the way net's initSocketHandle does (owner, onread, async id, and the
 * `onread` option's user buffer).
 */
export function attachHandle(socket: net.Socket, handle: { useUserBuffer?(b: Uint8Array): void; getAsyncId(): number }): void {
  const s = socket as unknown as Record<string | symbol, unknown>;
  const h = handle as unknown as Record<string | symbol, unknown>;
  h[OWNER] = socket;
  h.onread = onStreamRead;
  s[ASYNC_ID] = handle.getAsyncId();
  let userBuf = s[K_BUFFER] as Uint8Array | (() => Uint8Array) | undefined;
  if (userBuf) {
    const gen = s[K_BUFFER_GEN] as (() => Uint8Array) | null | undefined;
    if (gen) {
      userBuf = gen();
      if (!(userBuf instanceof Uint8Array)) return;
      s[K_BUFFER] = userBuf;
    }
    handle.useUserBuffer?.(userBuf as Uint8Array);
  }
}
