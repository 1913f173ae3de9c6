/**
 * `tsvma stats`: vma_stats for tsvma. Reads the statistics files processes running tsvma keep in
 * VMA_STATS_SHMEM_DIR (`tsvmastat.<pid>`, lib/stats/layout.ts) and shows them; posts zero and
 * log-level requests the process applies; serves OpenMetrics for Prometheus. Files of processes
 * that are gone are removed on the way (as vma_stats does).
 */
import * as http from 'node:http';
import { isRejected, parseValue, traceLevelName, traceOfPinoLevel, type PinoLevel } from '../conf';
import { formatOpenMetrics, formatView, snapshotJson } from '../lib/stats/format';
import { pidAlive } from '../lib/stats/layout';
import { deltaSnapshot, listStatsFiles, postRequest, readSnapshot, refresh, removeDead, statsDir, waitApplied, type Snapshot, type StatsFile } from '../lib/stats/reader';

const usage = `usage: tsvma stats [-p PID | -n NAME | -f] [options]     (like vma_stats)

  -p, --pid PID          the process with this pid
  -n, --name NAME        the process(es) with this name (script or program name)
  -f, --find_pid         every process with a statistics file
  -k, --directory DIR    where the files are (default: VMA_STATS_SHMEM_DIR, else /tmp/)
  -v, --view 1..5        1 basic (sockets), 2 extra (+ rings, pools, poller), 3 full (+ stack
                         counters and each socket in detail), 4 multicast groups, 5 netstat-like
  -i, --interval SEC     seconds between prints (default 1)
  -c, --cycles N         prints before exiting; 0 forever (default 0, 1 with --json)
  -d, --details [1|2]    1 totals (default), 2 deltas; -d alone: deltas
  -z, --zero             zero the process's counters
  -l, --log_level LEVEL  set the process's log level (VMA's names/numbers or pino's)
      --json             JSON, one line per print
      --prometheus [HOST:]PORT
                         serve OpenMetrics at http://HOST:PORT/metrics (every process unless -p/-n)
  -h, --help
With only -z or -l the request is made and the tool exits; add -v/-c/--json to see counters too.
`;

interface Options {
  pid: number | null;
  name: string | null;
  all: boolean;
  dir: string;
  view: number;
  viewGiven: boolean;
  interval: number;
  cycles: number | null;
  deltas: boolean;
  zero: boolean;
  level: number | null;
  json: boolean;
  prometheus: { host: string; port: number } | null;
}

class UsageError extends Error {}

const VALUED: Record<string, string> = {
  '-p': 'pid', '--pid': 'pid', '-n': 'name', '--name': 'name', '-k': 'dir', '--directory': 'dir', '-v': 'view', '--view': 'view',
  '-i': 'interval', '--interval': 'interval', '-c': 'cycles', '--cycles': 'cycles', '-l': 'level', '--log_level': 'level', '--log-level': 'level',
  '--prometheus': 'prometheus',
};

function parseLevel(raw: string): number {
  const v = parseValue('level', raw);
  if (!isRejected(v)) return v;
  const p = parseValue('pinoLevel', raw);
  if (!isRejected(p)) return traceOfPinoLevel(p as PinoLevel);
  throw new UsageError(`-l ${raw}: ${v.rejected}, or a pino level`);
}

function int(raw: string, what: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new UsageError(`${what} ${raw}: must be an integer from ${min} to ${max}`);
  return Number(raw);
}

export function parseStatsArgs(args: string[]): Options | 'help' {
  const o: Options = {
    pid: null, name: null, all: false, dir: statsDir(), view: 1, viewGiven: false, interval: 1, cycles: null, deltas: false, zero: false, level: null, json: false, prometheus: null,
  };
  for (let i = 0; i < args.length; i++) {
    let a = args[i];
    let val: string | undefined;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    if (eq > 0) {
      val = a.slice(eq + 1);
      a = a.slice(0, eq);
    } else if (/^-[a-z]./.test(a) && VALUED[a.slice(0, 2)]) {
      val = a.slice(2);
      a = a.slice(0, 2);
    }
    const key = VALUED[a];
    if (key) {
      if (val === undefined) {
        if (i + 1 >= args.length) throw new UsageError(`${a} needs a value`);
        val = args[++i];
      }
      switch (key) {
        case 'pid': o.pid = int(val, '-p', 1, 4194304); break;
        case 'name': o.name = val; break;
        case 'dir': o.dir = val; break;
        case 'view': o.view = int(val, '-v', 1, 5); o.viewGiven = true; break;
        case 'interval': {
          const n = Number(val);
          if (!(n > 0) || n > 86400) throw new UsageError(`-i ${val}: seconds, more than 0`);
          o.interval = n;
          break;
        }
        case 'cycles': o.cycles = int(val, '-c', 0, 1e9); break;
        case 'level': o.level = parseLevel(val); break;
        case 'prometheus': {
          const m = /^(?:(.*):)?(\d+)$/.exec(val);
          if (!m) throw new UsageError(`--prometheus ${val}: [HOST:]PORT`);
          o.prometheus = { host: m[1] || '0.0.0.0', port: int(m[2], '--prometheus port', 0, 65535) };
          break;
        }
      }
      continue;
    }
    switch (a) {
      case '-h': case '--help': return 'help';
      case '-f': case '--find_pid': o.all = true; break;
      case '-z': case '--zero': o.zero = true; break;
      case '--json': o.json = true; break;
      case '-d': case '--details': {
        const next = val ?? args[i + 1];
        if (next === '1' || next === '2') {
          if (val === undefined) i++;
          o.deltas = next === '2';
        } else if (val !== undefined) throw new UsageError(`-d ${val}: 1 (totals) or 2 (deltas)`);
        else o.deltas = true;
        break;
      }
      default:
        throw new UsageError(`unknown option '${a}'`);
    }
  }
  if (o.pid !== null && o.name !== null) throw new UsageError('-p and -n: give one');
  return o;
}

/** The processes the options select, each a live file; throws with a message when none fits. */
function select(o: Options, forServer = false): StatsFile[] {
  for (const f of removeDead(o.dir)) process.stderr.write(`tsvma stats: removed ${f.path} (process ${f.pid} is gone)\n`);
  const files = listStatsFiles(o.dir);
  if (o.pid !== null) {
    const mine = files.filter((f) => f.pid === o.pid);
    if (mine.length === 0) {
      throw new Error(pidAlive(o.pid)
        ? `process ${o.pid} has no statistics file in ${o.dir} (no TSVMA_DEVICE, VMA_STATS_SHMEM_DIR elsewhere or empty)`
        : `no process ${o.pid}`);
    }
    return mine;
  }
  if (o.name !== null) {
    const want = o.name;
    const mine = files.filter((f) => {
      const s = readSnapshot(f.path);
      if (!s) return false;
      const base = s.name.replace(/\.(c|m)?(j|t)s$/, '');
      return s.name === want || base === want || s.cmdline.split(' ')[0].split('/').pop() === want;
    });
    if (mine.length === 0) throw new Error(`no process named '${want}' has a statistics file in ${o.dir}`);
    return mine;
  }
  if (o.all || forServer) return files;
  if (files.length === 0) throw new Error(`no tsvma process found (no tsvmastat.<pid> file in ${o.dir})`);
  if (files.length > 1) throw new Error(`${files.length} processes have statistics (pids ${files.map((f) => f.pid).join(', ')}): choose one with -p or -n, or -f for all`);
  return files;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function request(files: StatsFile[], o: Options): Promise<void> {
  for (const f of files) {
    const s = readSnapshot(f.path);
    const wait = Math.max(2000, 20 * (s?.intervalMs ?? 100));
    if (o.zero) {
      const seq = postRequest(f.path, 'zero');
      if (!(await waitApplied(f.path, 'zero', seq, wait))) throw new Error(`process ${f.pid} did not apply the zero request within ${wait} ms`);
      process.stdout.write(`tsvma stats: counters of process ${f.pid} zeroed\n`);
    }
    if (o.level !== null) {
      const seq = postRequest(f.path, 'level', o.level);
      if (!(await waitApplied(f.path, 'level', seq, wait))) throw new Error(`process ${f.pid} did not apply the log level within ${wait} ms`);
      process.stdout.write(`tsvma stats: log level of process ${f.pid} set to ${traceLevelName(o.level)}\n`);
    }
  }
}

function serve(o: Options): Promise<number> {
  const { host, port } = o.prometheus!;
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url !== '/metrics' && url !== '/') {
      res.writeHead(404).end('not found: try /metrics\n');
      return;
    }
    void (async () => {
      const files = select(o, true);
      await Promise.all(files.map((f) => refresh(f.path)));
      const snaps = files.map((f) => readSnapshot(f.path)).filter((s): s is Snapshot => s !== null);
      res.writeHead(200, { 'Content-Type': 'application/openmetrics-text; version=1.0.0; charset=utf-8' });
      res.end(formatOpenMetrics(snaps));
    })().catch((e: unknown) => {
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${(e as Error).message}\n`);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address() as { address: string; port: number };
      process.stdout.write(`tsvma stats: serving OpenMetrics on http://${a.address}:${a.port}/metrics\n`);
      const stop = (): void => {
        server.close();
        resolve(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  });
}

async function display(files: StatsFile[], o: Options): Promise<number> {
  const cycles = o.cycles ?? (o.json ? 1 : 0);
  let live = files;
  const read = async (): Promise<Map<string, Snapshot>> => {
    const m = new Map<string, Snapshot>();
    await Promise.all(live.map((f) => refresh(f.path)));
    for (const f of live) {
      const s = readSnapshot(f.path);
      if (s) m.set(f.path, s);
      else process.stderr.write(`tsvma stats: process ${f.pid} exited\n`);
    }
    live = live.filter((f) => m.has(f.path));
    return m;
  };
  let prev = o.deltas ? await read() : null;
  for (let n = 0; cycles === 0 || n < cycles; n++) {
    if (o.deltas || n > 0) await sleep(o.interval * 1000);
    const cur = await read();
    if (cur.size === 0) return files.length > 0 && n > 0 ? 0 : 1;
    const shown = [...cur.values()].map((s) => (prev && prev.has(s.file) ? deltaSnapshot(s, prev.get(s.file)!) : s));
    if (o.json) {
      const doc = { time: Date.now(), ...(o.deltas ? { deltaSeconds: o.interval } : {}), processes: shown.map(snapshotJson) };
      process.stdout.write(`${JSON.stringify(doc)}\n`);
    } else {
      for (const s of shown) process.stdout.write(formatView(s, { level: o.view, deltas: o.deltas, seconds: o.interval }));
    }
    if (o.deltas) prev = cur;
  }
  return 0;
}

export async function stats(args: string[]): Promise<number> {
  let o: Options;
  try {
    const p = parseStatsArgs(args);
    if (p === 'help') {
      process.stdout.write(usage);
      return 0;
    }
    o = p;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`tsvma stats: ${e.message}\n${usage}`);
      return 2;
    }
    throw e;
  }
  if (o.prometheus) return serve(o);
  let files: StatsFile[];
  try {
    files = select(o);
  } catch (e) {
    process.stderr.write(`tsvma stats: ${(e as Error).message}\n`);
    return 1;
  }
  if (o.zero || o.level !== null) {
    await request(files, o);
    if (!o.viewGiven && o.cycles === null && !o.json && !o.deltas) return 0;
  }
  if (files.length === 0) {
    process.stdout.write(`tsvma stats: no tsvma process found in ${o.dir}\n`);
    return 0;
  }
  return display(files, o);
}
