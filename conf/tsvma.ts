/**
 * tsvma's own configuration surface (DESIGN.md, "Where the stack runs"). These names and meanings
 * are a contract with tools, docs and test harnesses: keep them.
 */
import { parseIpv4Text, parseMacText } from './text';

export type DeviceSpec =
  | { readonly kind: 'sim' }
  | { readonly kind: 'packet'; readonly ifname: string }
  | { readonly kind: 'verbs-eth'; readonly dev: string; readonly port: number }
  | { readonly kind: 'verbs-ud'; readonly dev: string; readonly port: number }
  | { readonly kind: 'daemon'; readonly socketPath: string };

export interface Ipv4Prefix {
  readonly ip: number;
  readonly prefix: number;
}

export type PinoLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export const PINO_LEVELS: readonly PinoLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export const DEFAULT_RINGD_SOCKET = '/run/tsvma/ringd.sock';

export interface TsvmaParam {
  readonly key: string;
  readonly env: string;
  readonly accepted: string;
  readonly default: string;
  readonly doc: string;
}

export const tsvmaParams: readonly TsvmaParam[] = [
  { key: 'device', env: 'TSVMA_DEVICE', accepted: '`sim`, `packet:IFNAME`, `verbs-eth:DEV[:PORT]`, `verbs-ud:DEV[:PORT]`, `daemon[:SOCKET_PATH]`', default: 'unset: no device; every socket passes through to Node and `getVmaApi()` returns null', doc: 'The device the stack runs on.' },
  { key: 'addr', env: 'TSVMA_ADDR', accepted: 'an IPv4 address with prefix, e.g. `198.18.0.2/24`', default: 'required for `packet`; the netdev\'s address for `verbs-eth`', doc: "The stack's IPv4 address and prefix on the device." },
  { key: 'gateway', env: 'TSVMA_GATEWAY', accepted: 'an IPv4 address inside TSVMA_ADDR\'s prefix', default: 'none', doc: 'Default gateway.' },
  { key: 'mac', env: 'TSVMA_MAC', accepted: 'a unicast MAC, `aa:bb:cc:dd:ee:ff`', default: 'a locally administered MAC derived from TSVMA_ADDR (02:00 + the four address bytes)', doc: "The packet device's own MAC." },
  { key: 'loopback', env: 'TSVMA_LOOPBACK', accepted: '`0` or `1`', default: '`0`', doc: '`1`: 127.0.0.0/8 traffic between offloaded sockets of one process goes through the user-space stack over a sim device.' },
  { key: 'log', env: 'TSVMA_LOG', accepted: 'a pino level: fatal, error, warn, info, debug, trace, silent', default: '`warn` (or what VMA_TRACELEVEL maps to when only it is set)', doc: 'Log level. When both TSVMA_LOG and VMA_TRACELEVEL are set, TSVMA_LOG wins.' },
];

/** What a TSVMA_* parser returns for a bad value: what is accepted. */
export interface TsvmaValueError {
  readonly error: string;
}

const bad = (error: string): TsvmaValueError => ({ error });

/** Parses TSVMA_DEVICE; returns the spec or a message saying what is accepted. */
export function parseDevice(v: string): DeviceSpec | TsvmaValueError {
  const s = v.trim();
  const ifnameOk = (n: string): boolean => n.length > 0 && n.length <= 15 && !/[\s/:]/.test(n);
  const port = (p: string | undefined): number => (p === undefined || p === '' ? 1 : /^\d+$/.test(p) && Number(p) >= 1 && Number(p) <= 255 ? Number(p) : NaN);
  if (s === 'sim') return { kind: 'sim' };
  if (s === 'daemon') return { kind: 'daemon', socketPath: DEFAULT_RINGD_SOCKET };
  const colon = s.indexOf(':');
  const kind = colon < 0 ? s : s.slice(0, colon);
  const rest = colon < 0 ? '' : s.slice(colon + 1);
  switch (kind) {
    case 'daemon':
      return rest ? { kind: 'daemon', socketPath: rest } : bad('daemon:SOCKET_PATH needs a path after the colon');
    case 'packet':
      return ifnameOk(rest) ? { kind: 'packet', ifname: rest } : bad('packet:IFNAME needs a network interface name (1-15 characters, no spaces, "/" or ":")');
    case 'verbs-eth':
    case 'verbs-ud': {
      const [dev, p, extra] = rest.split(':');
      const n = port(p);
      if (!dev || extra !== undefined || Number.isNaN(n)) return bad(`${kind}:DEV[:PORT] needs a verbs device name (e.g. mlx5_0, rxe0) and an optional port number 1-255`);
      return { kind, dev, port: n };
    }
    default:
      return bad('expected sim, packet:IFNAME, verbs-eth:DEV[:PORT], verbs-ud:DEV[:PORT] or daemon[:SOCKET_PATH]');
  }
}

export function parseAddr(v: string): Ipv4Prefix | TsvmaValueError {
  const m = /^\s*([^/\s]+)\/(\d{1,2})\s*$/.exec(v);
  if (!m) return bad('expected an IPv4 address with a prefix length, e.g. 198.18.0.2/24');
  const ip = parseIpv4Text(m[1]);
  const prefix = Number(m[2]);
  if (ip < 0) return bad(`"${m[1]}" is not an IPv4 address`);
  if (prefix < 1 || prefix > 32) return bad('the prefix length must be 1 to 32');
  return { ip, prefix };
}

export function parseGateway(v: string): number | TsvmaValueError {
  const ip = parseIpv4Text(v);
  return ip < 0 ? bad('expected an IPv4 address, e.g. 198.18.0.1') : ip;
}

export function parseMac(v: string): number | TsvmaValueError {
  const mac = parseMacText(v);
  if (mac < 0) return bad('expected a MAC address, e.g. 02:00:c6:12:00:02');
  if (Math.floor(mac / 2 ** 40) & 1) return bad('a multicast MAC cannot be an interface address');
  if (mac === 0) return bad('the all-zero MAC cannot be an interface address');
  return mac;
}

/** DESIGN.md: the packet device's default MAC, locally administered, derived from its address (02:00:a.b.c.d). */
export function macFromIp(ip: number): number {
  return 0x020000000000 + (ip >>> 0);
}

export function parseLogLevel(v: string): PinoLevel | TsvmaValueError {
  const s = v.trim().toLowerCase();
  return (PINO_LEVELS as readonly string[]).includes(s) ? (s as PinoLevel) : bad(`expected one of ${PINO_LEVELS.join(', ')}`);
}

/** VMA_TRACELEVEL (-1..8) → pino level. */
export function pinoLevelOfTrace(level: number): PinoLevel {
  if (level < 0) return 'silent';
  return (['fatal', 'error', 'warn', 'info', 'debug', 'debug', 'trace', 'trace', 'trace'] as const)[Math.min(level, 8)];
}

/** pino level → VMA_TRACELEVEL. */
export function traceOfPinoLevel(level: PinoLevel): number {
  return { silent: -1, fatal: 0, error: 1, warn: 2, info: 3, debug: 5, trace: 8 }[level];
}
