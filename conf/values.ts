/**
 * The value types of the parameter table: for each `type` name, the TypeScript type of a resolved
 * value, how a variable's text is parsed (strictly: a bad value is an error, never a fallback), how a
 * value prints, and what text is accepted (for error messages and docs/parameters.md).
 *
 * Parsers return the value or a `Rejected` saying what is accepted; env.ts turns that into a
 * ConfigError naming the variable. Nothing here throws on bad input.
 */
import { formatIpv4Text, formatMacText, parseIpv4Text, parseMacText } from './text';

/** The device the stack runs on (TSVMA_DEVICE). */
export type DeviceSpec =
  | { readonly kind: 'sim' }
  | { readonly kind: 'packet'; readonly ifname: string }
  | { readonly kind: 'verbs-eth'; readonly dev: string; readonly port: number }
  | { readonly kind: 'verbs-ud'; readonly dev: string; readonly port: number }
  | { readonly kind: 'daemon'; readonly socketPath: string };

/** An IPv4 address (unsigned 32-bit, as proto/wire/addr.ts) with a prefix length. */
export interface Ipv4Prefix {
  readonly ip: number;
  readonly prefix: number;
}

export type PinoLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export const PINO_LEVELS: readonly PinoLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Where `daemon` without a path connects (tsvma ringd's default socket). */
export const DEFAULT_RINGD_SOCKET = '/run/tsvma/ringd.sock';

/** The resolved value of each parameter type. Unset optional values (device, addresses) are null. */
export interface ValueTypes {
  int: number;
  bool: boolean;
  string: string;
  /** An integer from a closed set of meaningful values (see `choices`). */
  enum: number;
  /** VMA_TRACELEVEL: VMA's level number, -1 (none) … 8 (all). */
  level: number;
  /** VMA_SPEC: the canonical profile name, or '' for none. */
  spec: string;
  device: DeviceSpec | null;
  ipv4Prefix: Ipv4Prefix | null;
  ipv4: number | null;
  mac: number | null;
  pinoLevel: PinoLevel;
}

export type ParamType = keyof ValueTypes;

/** A parser's answer for text it does not accept: what it does accept. */
export interface Rejected {
  readonly rejected: string;
}

export const isRejected = (v: unknown): v is Rejected => typeof v === 'object' && v !== null && 'rejected' in v;
const reject = (rejected: string): Rejected => ({ rejected });

/**
 * VMA_TRACELEVEL levels. `inputs` are exactly the spellings VMA's vlogger accepts (case-insensitive),
 * including its number aliases, which are NOT the level numbers: "4" is debug (level 5), "5" fine,
 * "6" finer, and none/details/all have no number. `pino` is the pino level tsvma logs at.
 */
export const TRACE_LEVELS = [
  { level: -1, name: 'none', inputs: ['none'], pino: 'silent' },
  { level: 0, name: 'panic', inputs: ['panic', '0'], pino: 'fatal' },
  { level: 1, name: 'error', inputs: ['error', '1'], pino: 'error' },
  { level: 2, name: 'warn', inputs: ['warn', 'warning', '2'], pino: 'warn' },
  { level: 3, name: 'info', inputs: ['info', 'information', '3'], pino: 'info' },
  { level: 4, name: 'details', inputs: ['details'], pino: 'debug' },
  { level: 5, name: 'debug', inputs: ['debug', '4'], pino: 'debug' },
  { level: 6, name: 'fine', inputs: ['fine', 'func', '5'], pino: 'trace' },
  { level: 7, name: 'finer', inputs: ['finer', 'func+', 'funcall', 'func_all', 'func-all', '6'], pino: 'trace' },
  { level: 8, name: 'all', inputs: ['all'], pino: 'trace' },
] as const satisfies readonly { level: number; name: string; inputs: readonly string[]; pino: PinoLevel }[];

/** VMA level number → pino level. */
export function pinoLevelOfTrace(level: number): PinoLevel {
  return TRACE_LEVELS.find((t) => t.level === level)?.pino ?? 'info';
}

/** pino level → VMA level number (the inverse of pinoLevelOfTrace on pino's levels). */
export function traceOfPinoLevel(level: PinoLevel): number {
  return { silent: -1, fatal: 0, error: 1, warn: 2, info: 3, debug: 5, trace: 8 }[level];
}

export function traceLevelName(level: number): string {
  return TRACE_LEVELS.find((t) => t.level === level)?.name ?? String(level);
}

/** The constraints a parser needs from a parameter's row. */
export interface Limits {
  readonly min?: number;
  readonly max?: number;
  readonly choices?: readonly (readonly [number, string])[];
}

function parseIntText(raw: string, p: Limits): number | Rejected {
  const s = raw.trim();
  const what = p.choices
    ? `must be one of ${p.choices.map(([v, label]) => `${v} (${label})`).join(', ')}`
    : `must be an integer from ${p.min ?? -2147483648} to ${p.max ?? 2147483647}`;
  if (!/^[-+]?\d+$/.test(s)) return reject(what);
  const n = Number(s);
  if (p.choices) return p.choices.some(([v]) => v === n) ? n : reject(what);
  if (n < (p.min ?? -2147483648) || n > (p.max ?? 2147483647)) return reject(what);
  return n;
}

function parseBoolText(raw: string): boolean | Rejected {
  const s = raw.trim().toLowerCase();
  if (s === '1' || s === 'true') return true;
  if (s === '0' || s === 'false') return false;
  return reject('must be 0 or 1');
}

function parseTraceText(raw: string): number | Rejected {
  const s = raw.trim().toLowerCase();
  const t = TRACE_LEVELS.find((x) => (x.inputs as readonly string[]).includes(s));
  return t ? t.level : reject(`must be one of ${TRACE_LEVELS.map((x) => x.name).join(', ')} (or VMA's numbers 0 panic … 6 finer)`);
}

/** TSVMA_DEVICE. */
export function parseDevice(raw: string): DeviceSpec | Rejected {
  const s = raw.trim();
  if (s === 'sim') return { kind: 'sim' };
  if (s === 'daemon') return { kind: 'daemon', socketPath: DEFAULT_RINGD_SOCKET };
  const colon = s.indexOf(':');
  const kind = colon < 0 ? s : s.slice(0, colon);
  const rest = colon < 0 ? '' : s.slice(colon + 1);
  switch (kind) {
    case 'daemon':
      return rest ? { kind: 'daemon', socketPath: rest } : reject('daemon:SOCKET_PATH needs a path after the colon');
    case 'packet':
      // Linux's dev_valid_name: 1-15 bytes, no '/', ':' or whitespace, not "." or "..".
      return rest.length >= 1 && rest.length <= 15 && !/[\s/:]/.test(rest) && rest !== '.' && rest !== '..'
        ? { kind: 'packet', ifname: rest }
        : reject('packet:IFNAME needs a network interface name (1-15 characters, no spaces, "/" or ":")');
    case 'verbs-eth':
    case 'verbs-ud': {
      const parts = rest.split(':');
      const dev = parts[0];
      const portText = parts[1];
      const port = portText === undefined ? 1 : /^\d{1,3}$/.test(portText) ? Number(portText) : 0;
      if (!dev || parts.length > 2 || port < 1 || port > 255) {
        return reject(`${kind}:DEV[:PORT] needs a verbs device name (e.g. mlx5_0, rxe0) and an optional port number 1-255`);
      }
      return { kind, dev, port };
    }
    default:
      return reject('must be sim, packet:IFNAME, verbs-eth:DEV[:PORT], verbs-ud:DEV[:PORT] or daemon[:SOCKET_PATH]');
  }
}

/** TSVMA_ADDR: `a.b.c.d/prefix`, prefix 1-32. */
export function parseIpv4Prefix(raw: string): Ipv4Prefix | Rejected {
  const m = /^\s*([^/\s]+)\/(\d{1,2})\s*$/.exec(raw);
  if (!m) return reject('must be an IPv4 address with a prefix length, e.g. 198.18.0.2/24');
  const ip = parseIpv4Text(m[1]);
  if (ip < 0) return reject(`must be an IPv4 address with a prefix length: "${m[1]}" is not an IPv4 address`);
  const prefix = Number(m[2]);
  if (prefix < 1 || prefix > 32) return reject('must have a prefix length from 1 to 32');
  return { ip, prefix };
}

function parseIpv4Value(raw: string): number | Rejected {
  const ip = parseIpv4Text(raw);
  return ip < 0 ? reject('must be an IPv4 address, e.g. 198.18.0.1') : ip;
}

function parseMacValue(raw: string): number | Rejected {
  const mac = parseMacText(raw);
  if (mac < 0) return reject('must be a MAC address, e.g. 02:00:c6:12:00:02');
  if (Math.floor(mac / 2 ** 40) & 1) return reject('must be a unicast MAC (a multicast MAC cannot be an interface address)');
  if (mac === 0) return reject('must not be the all-zero MAC');
  return mac;
}

function parsePinoText(raw: string): PinoLevel | Rejected {
  const s = raw.trim().toLowerCase();
  return (PINO_LEVELS as readonly string[]).includes(s) ? (s as PinoLevel) : reject(`must be one of ${PINO_LEVELS.join(', ')}`);
}

/**
 * Parses a variable's text as `type`. `spec` is checked by env.ts against the profile table (which
 * imports this module), so here it is only trimmed.
 */
export function parseValue<T extends ParamType>(type: T, raw: string, limits: Limits = {}): ValueTypes[T] | Rejected {
  return (parsers[type] as (raw: string, limits: Limits) => ValueTypes[T] | Rejected)(raw, limits);
}

/** One parser per type, made once. */
const parsers: { [K in ParamType]: (raw: string, limits: Limits) => ValueTypes[K] | Rejected } = {
  int: parseIntText,
  enum: parseIntText,
  bool: parseBoolText,
  string: (r) => r,
  level: parseTraceText,
  spec: (r) => r.trim(),
  device: parseDevice,
  ipv4Prefix: parseIpv4Prefix,
  ipv4: parseIpv4Value,
  mac: parseMacValue,
  pinoLevel: parsePinoText,
};

export function formatDevice(d: DeviceSpec): string {
  switch (d.kind) {
    case 'sim': return 'sim';
    case 'packet': return `packet:${d.ifname}`;
    case 'verbs-eth':
    case 'verbs-ud': return `${d.kind}:${d.dev}:${d.port}`;
    case 'daemon': return `daemon:${d.socketPath}`;
  }
}

/** A value for people: the variable's text, with an enum's meaning and a level's name; '(unset)' / '(none)' for empty. */
export function formatValue<T extends ParamType>(type: T, v: ValueTypes[T], limits: Limits = {}): string {
  if (v === null) return '(unset)';
  switch (type) {
    case 'bool': return v ? '1' : '0';
    case 'level': return traceLevelName(v as number);
    case 'enum': {
      const label = limits.choices?.find(([x]) => x === v)?.[1];
      return label ? `${v} (${label})` : String(v);
    }
    case 'string':
    case 'spec': return v === '' ? '(none)' : String(v);
    case 'device': return formatDevice(v as DeviceSpec);
    case 'ipv4Prefix': return `${formatIpv4Text((v as Ipv4Prefix).ip)}/${(v as Ipv4Prefix).prefix}`;
    case 'ipv4': return formatIpv4Text(v as number);
    case 'mac': return formatMacText(v as number);
    default: return String(v);
  }
}

/** What text a type accepts, for docs. */
export function acceptedText(type: ParamType, limits: Limits = {}): string {
  switch (type) {
    case 'int': return `${limits.min ?? -2147483648} … ${limits.max ?? 2147483647}`;
    case 'enum': return (limits.choices ?? []).map(([v, label]) => `${v} ${label}`).join('; ');
    case 'bool': return '0, 1';
    case 'string': return 'text';
    case 'level': return `${TRACE_LEVELS.map((t) => t.name).join(', ')}; VMA's numbers 0 panic, 1 error, 2 warn, 3 info, 4 debug, 5 fine, 6 finer`;
    case 'spec': return 'a profile name or number (below)';
    case 'device': return '`sim`, `packet:IFNAME`, `verbs-eth:DEV[:PORT]`, `verbs-ud:DEV[:PORT]`, `daemon[:SOCKET_PATH]` (PORT defaults to 1)';
    case 'ipv4Prefix': return '`a.b.c.d/prefix`, prefix 1-32';
    case 'ipv4': return '`a.b.c.d`';
    case 'mac': return 'a unicast MAC, `aa:bb:cc:dd:ee:ff`';
    case 'pinoLevel': return PINO_LEVELS.join(', ');
  }
}
