/**
 * tsvma ringd going away and coming back, for a process on the `daemon` device (docs/ringd.md,
 * "Faults"). The device (ring/daemon/daemon_device.ts) notices ringd's control socket close and
 * calls `onGone`; from here, on the next event-loop turn:
 *   - every TCP connection of the process is aborted and its socket fails with ECONNRESET (the
 *     ringd that knew it is gone; the peer gets RST for its next segment from the new one);
 *     listeners stay, their ports are claimed again at the re-attach;
 *   - every bound UDP socket gets an 'error' (ENETDOWN, whose message names ringd and how to
 *     restart it); it stays bound and its port is claimed again at the re-attach;
 *   - one process warning (code TSVMA_RINGD_GONE) says the same.
 * While ringd is away a bind fails with EADDRINUSE (the device cannot claim the port), its message
 * saying ringd is away. Re-attach: `device.reattach()` on an unref'd timer (50 ms, doubling up to 2 s) until a ringd
 * answers on the same socket path. Then new sockets work as before; a bound UDP socket whose port
 * another process claimed first gets an 'error' (EADDRINUSE) and receives nothing more; a listener
 * whose port was taken: a warning (TSVMA_RINGD_PORT_LOST). A ringd serving another address, MAC or
 * MTU cannot be re-attached: a warning (TSVMA_RINGD_MISMATCH), and no more retries.
 * Timers live here, not in ring/ (STYLE rule 6).
 */
import { formatIpv4Text } from '../conf/text';
import { TcpState } from '../proto/stack/tcp';
import { RingdMismatchError, type DaemonDevice } from '../ring/daemon/daemon_device';
import { setErrnoHint } from './errors';
import type { Runtime } from './runtime';

const ENETDOWN = 100;
const ECONNRESET = 104;
const EADDRINUSE = 98;
const UDP = 17;
const TCP = 6;
const FIRST_RETRY_MS = 50;
const MAX_RETRY_MS = 2000;

/**
 * Wires `dev.onGone` for the runtime `rt` (lib/runtime.ts calls it for the daemon device). Losses and
 * re-attaches are counted by the device (`ringdLost`, `reattaches`).
 */
export function watchRingd(rt: Runtime, dev: DaemonDevice): void {
  const path = dev.opts.socketPath;
  const r0 = dev.ringd;
  // ringd's device as TSVMA_DEVICE names it (the sim device calls itself sim0, sim1, ...).
  const device = /^sim\d*$/.test(r0.device) ? 'sim' : r0.device;
  const hint = `tsvma ringd at ${path} went away; restart it with \`tsvma ringd --TSVMA_DEVICE=${device} --TSVMA_ADDR=${formatIpv4Text(r0.ip)}/${r0.prefix} --socket ${path}\``
    + '; this process re-attaches by itself when it is back (docs/ringd.md)';
  const away = `tsvma ringd at ${path} is away, so no port can be claimed until this process re-attaches; restart ringd (docs/ringd.md)`;
  let delay = FIRST_RETRY_MS;
  let timer: NodeJS.Timeout | null = null;

  const schedule = (): void => {
    if (timer !== null) return;
    timer = setTimeout(retry, delay);
    timer.unref();
    delay = Math.min(delay * 2, MAX_RETRY_MS);
  };

  const failSockets = (): void => {
    process.emitWarning(hint, { code: 'TSVMA_RINGD_GONE' });
    const now = rt.engine.clock();
    for (const s of [...rt.tcp.sockets()]) {
      if (s.state === TcpState.Listen) continue;
      const cb = s.onError; // abort() clears the callbacks: the error goes to the socket's owner here
      rt.tcp.abort(s, now);
      cb?.(s, -ECONNRESET);
    }
    for (const s of [...rt.udp.sockets()]) if (!s.closed) s.onError?.(s, -ENETDOWN);
  };

  const retry = (): void => {
    timer = null;
    if (!dev.isGone) return; // closed, or re-attached already
    let res;
    try {
      res = dev.reattach();
    } catch (e) {
      if (e instanceof RingdMismatchError) {
        process.emitWarning(e.message, { code: 'TSVMA_RINGD_MISMATCH' });
        return;
      }
      schedule();
      return;
    }
    if (dev.isGone) return; // gone again during the re-attach: onGone scheduled the next try
    delay = FIRST_RETRY_MS;
    setErrnoHint(ENETDOWN, null);
    setErrnoHint(EADDRINUSE, null);
    rt.engine.poller.kick();
    if (res.lostPorts.length === 0) return;
    const lost = new Set(res.lostPorts);
    const why = `tsvma ringd at ${path} came back, but another process claimed this socket's port first`;
    setErrnoHint(EADDRINUSE, why);
    try {
      for (const s of [...rt.udp.sockets()]) if (lost.has(UDP * 65536 + s.localPort) && !s.closed) s.onError?.(s, -EADDRINUSE);
    } finally {
      setErrnoHint(EADDRINUSE, null);
    }
    const tcp = res.lostPorts.filter((k) => Math.floor(k / 65536) === TCP).map((k) => k % 65536);
    if (tcp.length > 0) process.emitWarning(`${why}: TCP listeners on port(s) ${tcp.join(', ')} get no more connections`, { code: 'TSVMA_RINGD_PORT_LOST' });
  };

  dev.onGone = (): void => {
    setErrnoHint(ENETDOWN, hint);
    setErrnoHint(EADDRINUSE, away);
    setImmediate(failSockets);
    schedule();
  };
}
