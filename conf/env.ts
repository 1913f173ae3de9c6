/**
 * Resolves the configuration once from an environment map into a deeply frozen, typed object.
 * Precedence, as in VMA: built-in defaults → VMA_SPEC profile → each variable set explicitly.
 * An invalid value throws ConfigError naming the variable, the value and what is accepted; unknown
 * VMA_* variables are ignored (as VMA does) and listed in `warnings`.
 */
import { findProfile, type Profile } from './profiles';
import { TRACE_LEVEL_NAMES, vmaParams, type VmaConfig, type VmaParam } from './params';
import { formatIpv4Text, maskOf } from './text';
import {
  macFromIp, parseAddr, parseDevice, parseGateway, parseLogLevel, parseMac, pinoLevelOfTrace,
  type DeviceSpec, type Ipv4Prefix, type PinoLevel, type TsvmaValueError,
} from './tsvma';

export class ConfigError extends Error {
  readonly code = 'ERR_TSVMA_CONFIG';
  constructor(readonly variable: string, readonly value: string, accepted: string) {
    super(`${variable}=${JSON.stringify(value)}: ${accepted}`);
    this.name = 'ConfigError';
  }
}

export interface Config {
  readonly vma: VmaConfig;
  /** The VMA_SPEC profile applied, if any. */
  readonly profile: string | null;
  readonly device: DeviceSpec | null;
  readonly addr: Ipv4Prefix | null;
  readonly gateway: number | null;
  /** The packet device's MAC (explicit or derived from addr); null without a packet device. */
  readonly mac: number | null;
  readonly loopback: boolean;
  readonly logLevel: PinoLevel;
  /** Names of the variables that were set (VMA_* and TSVMA_*). */
  readonly explicit: readonly string[];
  readonly warnings: readonly string[];
}

export type Env = Readonly<Record<string, string | undefined>>;

function parseInt32(p: VmaParam, raw: string): number {
  const s = raw.trim();
  const range = 'values' in p && p.values ? `one of ${p.values.join(', ')}` : `an integer from ${'min' in p ? p.min : '-2147483648'} to ${'max' in p ? p.max : '2147483647'}`;
  if (!/^-?\d+$/.test(s)) throw new ConfigError(p.env, raw, `must be ${range}`);
  const n = Number(s);
  if ('values' in p && p.values && !(p.values as readonly number[]).includes(n)) throw new ConfigError(p.env, raw, `must be ${range}`);
  if ('min' in p && p.min !== undefined && n < p.min) throw new ConfigError(p.env, raw, `must be ${range}`);
  if ('max' in p && p.max !== undefined && n > p.max) throw new ConfigError(p.env, raw, `must be ${range}`);
  return n;
}

function parseBool(p: VmaParam, raw: string): boolean {
  const s = raw.trim().toLowerCase();
  if (s === '1' || s === 'true') return true;
  if (s === '0' || s === 'false') return false;
  throw new ConfigError(p.env, raw, 'must be 0 or 1');
}

/** VMA_TRACELEVEL: a name (none, panic, error, warn, info, details, debug, fine, finer, all) or -1..8. */
export function parseTraceLevel(p: VmaParam, raw: string): number {
  const s = raw.trim().toLowerCase();
  if (/^-?\d+$/.test(s)) {
    const n = Number(s);
    if (n >= -1 && n <= 8) return n;
  }
  const aliases: Record<string, number> = { warning: 2, information: 3, detail: 4, func: 6, funcs: 7 };
  const i = (TRACE_LEVEL_NAMES as readonly string[]).indexOf(s);
  if (i >= 0) return i - 1;
  if (s in aliases) return aliases[s];
  throw new ConfigError(p.env, raw, `must be -1 to 8 or one of ${TRACE_LEVEL_NAMES.join(', ')}`);
}

function parseValue(p: VmaParam, raw: string): number | boolean | string {
  switch (p.type) {
    case 'int': return parseInt32(p, raw);
    case 'bool': return parseBool(p, raw);
    case 'level': return parseTraceLevel(p, raw);
    case 'string': return raw;
    case 'spec': return raw.trim();
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}

function tsvma<T>(env: Env, name: string, parse: (v: string) => T | TsvmaValueError): T | null {
  const raw = env[name];
  if (raw === undefined || raw === '') return null;
  const r = parse(raw);
  if (isValueError(r)) throw new ConfigError(name, raw, r.error);
  return r;
}

function isValueError(v: unknown): v is TsvmaValueError {
  return typeof v === 'object' && v !== null && 'error' in v;
}

export function resolveConfig(env: Env): Config {
  const explicit: string[] = [];
  const warnings: string[] = [];
  const known = new Set<string>(vmaParams.map((p) => p.env));
  for (const k of Object.keys(env)) {
    if (env[k] === undefined) continue;
    if (known.has(k) || k.startsWith('TSVMA_')) explicit.push(k);
    else if (k.startsWith('VMA_')) warnings.push(`${k} is not a parameter tsvma knows; ignored`);
  }
  // 1. defaults
  const vma: Record<string, unknown> = {};
  for (const p of vmaParams) vma[p.key] = p.default;
  // 2. profile
  let profile: Profile | null = null;
  const specRaw = env.VMA_SPEC;
  if (specRaw !== undefined && specRaw.trim() !== '') {
    const found = findProfile(specRaw);
    if (!found) throw new ConfigError('VMA_SPEC', specRaw, 'must be one of latency (15), ultra-latency (10), multi_ring_latency, 29west (29), wombat_fh (554), mcd (623), mcd-irq (624), rti (784), 7750');
    profile = found;
    Object.assign(vma, found.values);
  }
  // 3. explicit variables
  for (const p of vmaParams) {
    const raw = env[p.env];
    if (raw === undefined) continue;
    if (p.type === 'spec') {
      vma[p.key] = profile ? profile.name : '';
      continue;
    }
    vma[p.key] = parseValue(p, raw);
  }

  const device = tsvma<DeviceSpec>(env, 'TSVMA_DEVICE', parseDevice);
  const addr = tsvma<Ipv4Prefix>(env, 'TSVMA_ADDR', parseAddr);
  const gateway = tsvma<number>(env, 'TSVMA_GATEWAY', parseGateway);
  let mac = tsvma<number>(env, 'TSVMA_MAC', parseMac);
  const loopbackRaw = env.TSVMA_LOOPBACK;
  let loopback = false;
  if (loopbackRaw !== undefined && loopbackRaw !== '') {
    if (loopbackRaw.trim() === '1') loopback = true;
    else if (loopbackRaw.trim() !== '0') throw new ConfigError('TSVMA_LOOPBACK', loopbackRaw, 'must be 0 or 1');
  }
  const logExplicit = tsvma<PinoLevel>(env, 'TSVMA_LOG', parseLogLevel);
  const logLevel: PinoLevel = logExplicit ?? (env.VMA_TRACELEVEL !== undefined ? pinoLevelOfTrace(vma.traceLevel as number) : 'warn');

  if (device?.kind === 'packet' && !addr) {
    throw new ConfigError('TSVMA_ADDR', env.TSVMA_ADDR ?? '', `is required with TSVMA_DEVICE=${env.TSVMA_DEVICE}: the packet device owns an address of its own (e.g. TSVMA_ADDR=198.18.0.2/24)`);
  }
  if (gateway !== null) {
    if (!addr) throw new ConfigError('TSVMA_GATEWAY', env.TSVMA_GATEWAY ?? '', 'needs TSVMA_ADDR to know the local network');
    const m = maskOf(addr.prefix);
    if (((gateway & m) >>> 0) !== ((addr.ip & m) >>> 0)) {
      throw new ConfigError('TSVMA_GATEWAY', env.TSVMA_GATEWAY ?? '', `must be inside ${formatIpv4Text(addr.ip)}/${addr.prefix}`);
    }
  }
  if (mac !== null && device?.kind !== 'packet') warnings.push('TSVMA_MAC is used by the packet device only; ignored');
  if (device?.kind === 'packet' && mac === null && addr) mac = macFromIp(addr.ip);
  if (device?.kind !== 'packet') mac = null;

  return deepFreeze({
    vma: vma as VmaConfig,
    profile: profile ? profile.name : null,
    device, addr, gateway, mac, loopback, logLevel,
    explicit: explicit.sort(), warnings,
  });
}

/** The VMA parameters whose value differs from VMA's default (VMA prints these at start-up). */
export function describeConfig(cfg: Config): { env: string; value: string }[] {
  const out: { env: string; value: string }[] = [];
  for (const p of vmaParams) {
    const v = (cfg.vma as Record<string, unknown>)[p.key];
    if (v !== p.default) out.push({ env: p.env, value: formatValue(p, v) });
  }
  return out;
}

export function formatValue(p: VmaParam, v: unknown): string {
  if (p.type === 'bool') return v ? '1' : '0';
  if (p.type === 'level') return `${TRACE_LEVEL_NAMES[(v as number) + 1]} (${v})`;
  if (p.type === 'string' || p.type === 'spec') return v === '' ? '(none)' : String(v);
  return String(v);
}
