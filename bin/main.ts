import { version } from '../lib/version';

const usage = `usage: tsvma <command> [options]

commands:
  demo [--sim] [--count N] [--size B]
                       UDP ping-pong through tsvma next to Node dgram (packet device over veth as root, else sim)
  decode FILE.pcap     print one tcpdump-style line per frame of a pcap file
  perf server|ping-pong|under-load|throughput [-i IP] [-p PORT] [-m SIZE] [-t SEC] [--mps N|max] [--full-log FILE]
                       sockperf-compatible benchmark on tsvma/dgram, or tsvma/net with --tcp (tsvma perf --help)
  params [--markdown]  list the VMA_* and TSVMA_* parameters tsvma honours
  stats [-p PID | -n NAME | -f] [-v 1..5] [-i SEC] [-c N] [-d] [-z] [-l LEVEL] [--json] [--prometheus PORT]
                       live counters of running tsvma processes, like vma_stats (tsvma stats --help)
  ringd [--TSVMA_DEVICE=packet:IFNAME --TSVMA_ADDR=A.B.C.D/NN] [--socket PATH]
                       the ring daemon: shares one device with TSVMA_DEVICE=daemon processes (tsvma ringd --help)
  run [--VAR=value] app.js [args]
                       run an unmodified Node program with tsvma's sockets
  version              print the version
`;

export type Command = (args: string[]) => Promise<number>;
const commands = new Map<string, () => Promise<Command>>([
  ['version', async () => async () => { process.stdout.write(`${version}\n`); return 0; }],
  ['decode', async () => (await import('./decode')).decode],
  ['params', async () => (await import('./params')).params],
  ['run', async () => (await import('./run')).run],
  ['demo', async () => (await import('./demo')).demo],
  ['perf', async () => (await import('./perf')).perf],
  ['stats', async () => (await import('./stats')).stats],
  ['ringd', async () => (await import('./ringd')).ringd],
]);

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(usage);
    return cmd === undefined ? 2 : 0;
  }
  const load = commands.get(cmd);
  if (!load) {
    process.stderr.write(`tsvma: unknown command '${cmd}'\n${usage}`);
    return 2;
  }
  return (await load())(rest);
}
