/**
 * sockperf's server over tsvma/dgram (or tsvma/net with --tcp): counts client messages, answers those that ask for a
 * pong with the same bytes (client flag cleared) to the sender, until SIGINT or SIGTERM; then prints
 * "Total N messages received and handled" as sockperf does.
 *
 * The reply goes out from the received Buffer, changed in place (each 'message' gets a Buffer of
 * its own, on kernel and offloaded sockets alike), so the server allocates nothing of its own per
 * message.
 */
import { addressLine, stackLine } from './client';
import { openServer, type ServerTransport } from './transport';
import { FLAG_CLIENT, FLAG_PONG, FLAG_WARMUP, HEADER_LEN, readFlags, readLength, writeFlags } from './message';

export interface ServerOptions {
  ip: string;
  port: number;
  /** Largest message length (header field) accepted; longer ones are ignored, as sockperf's -m. */
  maxSize: number;
  dontReply: boolean;
  /** sockperf's --tcp: messages over a TCP stream (tsvma/net) instead of datagrams. */
  tcp: boolean;
}

export function runServer(o: ServerOptions, out: (s: string) => void): Promise<number> {
  return new Promise((resolve) => {
    let s: ServerTransport | null = null;
    let received = 0;
    let tooLong = 0;
    let sendErrors = 0;
    let listening = false;
    const onMessage = (msg: Buffer, reply: (b: Buffer, len: number) => void): void => {
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
      reply(msg, len < HEADER_LEN ? HEADER_LEN : len);
    };
    const stop = (signal: NodeJS.Signals): void => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      out(signal === 'SIGINT' ? 'Test end (interrupted by user)' : `Test end (interrupted by signal ${signal === 'SIGTERM' ? 15 : signal})`);
      out(received ? `Total ${received} messages received and handled` : 'No messages were received on the server.');
      if (tooLong) out(`tsvma: ${tooLong} messages longer than -m ${o.maxSize} ignored`);
      if (sendErrors) out(`tsvma: ${sendErrors} reply send errors`);
      if (s) s.close(() => resolve(0));
      else resolve(0);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    openServer(o.tcp, o.ip, o.port, onMessage, {
      ready: (t) => {
        s = t;
        listening = true;
        process.stdout.write(`sockperf: [SERVER] listen on:\n${addressLine(o.ip, o.port, o.tcp)}\n`);
        out(stackLine(t.offloaded, o.tcp));
        out(o.tcp ? 'using the data event of tsvma/net to receive (no busy loop)' : 'using the message event of tsvma/dgram to receive (no busy loop)');
      },
      error: (e) => {
        if (!listening) {
          process.stderr.write(`tsvma perf server: ${e.message}\n`);
          process.removeListener('SIGINT', stop);
          process.removeListener('SIGTERM', stop);
          resolve(1);
          return;
        }
        sendErrors++;
      },
    });
  });
}
