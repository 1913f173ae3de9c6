/**
 * sockperf's UDP server over tsvma/dgram: counts client messages, answers those that ask for a
 * pong with the same bytes (client flag cleared) to the sender, until SIGINT or SIGTERM; then prints
 * "Total N messages received and handled" as sockperf does.
 *
 * The reply goes out from the received Buffer, changed in place (each 'message' gets a Buffer of
 * its own, on kernel and offloaded sockets alike), so the server allocates nothing of its own per
 * message.
 */
import { createSocket, type RemoteInfo } from '../../lib/dgram';
import { addressLine, stackLine } from './client';
import { FLAG_CLIENT, FLAG_PONG, FLAG_WARMUP, HEADER_LEN, readFlags, readLength, writeFlags } from './message';

export interface ServerOptions {
  ip: string;
  port: number;
  /** Largest message length (header field) accepted; longer ones are ignored, as sockperf's -m. */
  maxSize: number;
  dontReply: boolean;
}

export function runServer(o: ServerOptions, out: (s: string) => void): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    let received = 0;
    let tooLong = 0;
    let sendErrors = 0;
    let listening = false;
    const onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
      if (msg.length < HEADER_LEN) return;
      const len = readLength(msg);
      if (len > o.maxSize) {
        tooLong++;
        return;
      }
      const flags = readFlags(msg);
      if ((flags & FLAG_CLIENT) === 0 || (flags & FLAG_WARMUP) !== 0) return;
      received++;
      if ((flags & FLAG_PONG) === 0 || o.dontReply) return;
      writeFlags(msg, flags & ~FLAG_CLIENT);
      if (len >= msg.length) s.send(msg, rinfo.port, rinfo.address);
      else s.send(msg, 0, len < HEADER_LEN ? HEADER_LEN : len, rinfo.port, rinfo.address);
    };
    const stop = (signal: NodeJS.Signals): void => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      out(signal === 'SIGINT' ? 'Test end (interrupted by user)' : `Test end (interrupted by signal ${signal === 'SIGTERM' ? 15 : signal})`);
      out(received ? `Total ${received} messages received and handled` : 'No messages were received on the server.');
      if (tooLong) out(`tsvma: ${tooLong} messages longer than -m ${o.maxSize} ignored`);
      if (sendErrors) out(`tsvma: ${sendErrors} reply send errors`);
      s.close(() => resolve(0));
    };
    s.on('message', onMessage);
    s.on('error', (e: Error) => {
      if (!listening) {
        process.stderr.write(`tsvma perf server: ${e.message}\n`);
        process.removeListener('SIGINT', stop);
        process.removeListener('SIGTERM', stop);
        try { s.close(); } catch { /* not running */ }
        resolve(1);
        return;
      }
      sendErrors++;
    });
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    s.bind(o.port, o.ip, () => {
      listening = true;
      process.stdout.write(`sockperf: [SERVER] listen on:\n${addressLine(o.ip, o.port)}\n`);
      out(stackLine(s));
      out('using the message event of tsvma/dgram to receive (no busy loop)');
    });
  });
}
