/**
 * Resolves the configuration once, from an environment map, into a deeply frozen typed object.
 *
 * Precedence, as VMA's `mce_sys_var::get_env_params`:
 *   1. built-in defaults (the tables in params.ts);
 *   2. VMA_SOCKETXTREME=1 changes a few defaults (profiles.ts SOCKETXTREME_DEFAULTS);
 *   3. the VMA_SPEC profile's values;
 *   4. every variable set explicitly (an empty value counts as unset, except for text parameters,
 *      where it is the value: VMA_STATS_SHMEM_DIR= disables the statistics file);
 *   5. VMA's cross-parameter adjustments (each noted in `warnings`): SocketXtreme forces
 *      VMA_PROGRESS_ENGINE_INTERVAL to 0; VMA_TCP_TIMER_RESOLUTION_MSEC is raised to
 *      VMA_TIMER_RESOLUTION_MSEC; VMA_TX_WRE / VMA_RX_WRE are raised to twice their batching.
 *
 * Logging: TSVMA_LOG and VMA_TRACELEVEL are one setting seen two ways. If TSVMA_LOG is set it wins
 * (VMA_TRACELEVEL is reset to match it when they disagree, with a warning); else an explicit or
 * profile VMA_TRACELEVEL sets the pino level; else both are warn.
 *
 * Errors: an invalid value throws ConfigError (code ERR_TSVMA_CONFIG) naming the variable, the value
 * and what is accepted. Unknown VMA_* / TSVMA_* variables are ignored (VMA ignores unknown names) and
 * listed in `warnings`.
 */
import { params, tsvmaParams, vmaParams, type Param, type ParamName, type TsvmaValues, type VmaValues } from './params';
import { findProfile, profiles, SOCKETXTREME_DEFAULTS } from './profiles';
import { formatIpv4Text, maskOf } from './text';
import {
  formatValue, isRejected, parseValue, pinoLevelOfTrace, traceLevelName, traceOfPinoLevel,
  type Ipv4Prefix,
} from './values';

export class ConfigError extends Error {
  readonly code = 'ERR_TSVMA_CONFIG';
  /**
   * @param variable the environment variable
   * @param value its text, or undefined when the problem is that it is not set
   * @param accepted what is accepted, as a sentence fragment ("must be …")
   */
  constructor(readonly variable: string, readonly value: string | undefined, accepted: string) {
    super(value === undefined ? `${variable} is not set: ${accepted}` : `${variable}=${JSON.stringify(value)}: ${accepted}`);
    this.name = 'ConfigError';
  }
}

/** Where a resolved value came from. */
export type Source = 'default' | 'socketxtreme' | 'profile' | 'env' | 'derived' | 'adjusted';

export interface ConfigMeta {
  /** Where each value came from. */
  readonly sources: Readonly<Record<ParamName, Source>>;
  /** Unknown variables ignored, values adjusted or overridden, settings without effect. */
  readonly warnings: readonly string[];
}

/**
 * The resolved configuration: one field per parameter row (`name` → the type of its `type`), the
 * TSVMA_* rows at the top level and the VMA_* rows under `vma` (`cfg.device`, `cfg.vma.rxPoll`),
 * plus where each value came from and the warnings. `vma.spec` is the applied profile's canonical
 * name or ''.
 */
export type Config = TsvmaValues & { readonly vma: VmaValues } & ConfigMeta;

export type Env = Readonly<Record<string, string | undefined>>;

const byEnv = new Map<string, Param>(params.map((p) => [p.env, p]));
const byName = new Map<string, Param>(params.map((p) => [p.name, p]));

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}

/** A row's value for people (enums with their meaning, levels by name). */
export function formatParamValue(p: Param, v: unknown): string {
  return formatValue(p.type, v as never, p);
}

/** A row's value in a resolved configuration. */
export function paramValue(cfg: Readonly<Config>, p: Param): unknown {
  const tsvmaRow = (tsvmaParams as readonly Param[]).includes(p);
  return (tsvmaRow ? (cfg as unknown as Record<string, unknown>) : (cfg.vma as unknown as Record<string, unknown>))[p.name];
}

export function resolveConfig(env: Env): Readonly<Config> {
  const warnings: string[] = [];
  const values: Record<string, unknown> = {};
  const sources: Record<string, Source> = {};
  const set = (name: string, v: unknown, s: Source): void => {
    values[name] = v;
    sources[name] = s;
  };
  const get = <N extends ParamName>(name: N): (TsvmaValues & VmaValues)[N] => values[name] as (TsvmaValues & VmaValues)[N];
  // (Resolved flat by name; split into the top level and `vma` at the end.)

  for (const k of Object.keys(env).sort()) {
    if (env[k] !== undefined && (k.startsWith('VMA_') || k.startsWith('TSVMA_')) && !byEnv.has(k)) {
      warnings.push(`${k} is not a parameter tsvma knows; ignored`);
    }
  }
  const textOf = (p: Param): string | undefined => {
    const raw = env[p.env];
    return raw === undefined || (raw === '' && p.type !== 'string') ? undefined : raw;
  };
  const parse = (p: Param, raw: string): unknown => {
    const v = parseValue(p.type, raw, p);
    if (isRejected(v)) throw new ConfigError(p.env, raw, v.rejected);
    return v;
  };

  // 1. defaults
  for (const p of params) set(p.name, p.default, 'default');

  // 2. SocketXtreme defaults
  const sxParam = byName.get('socketXtreme')!;
  const sxRaw = textOf(sxParam);
  if (sxRaw !== undefined && parse(sxParam, sxRaw) === true) {
    for (const [k, v] of Object.entries(SOCKETXTREME_DEFAULTS)) set(k, v, 'socketxtreme');
  }

  // 3. the VMA_SPEC profile
  const specParam = byName.get('spec')!;
  const specRaw = textOf(specParam);
  if (specRaw !== undefined) {
    const profile = findProfile(specRaw);
    if (!profile) {
      const names = profiles.map((x) => x.name + (x.aliases.length ? ` (${x.aliases.join(', ')})` : '')).join(', ');
      throw new ConfigError(specParam.env, specRaw, `must be one of ${names}`);
    }
    for (const [k, v] of Object.entries(profile.values)) set(k, v, 'profile');
    set('spec', profile.name, 'env');
  }

  // 4. explicit variables
  for (const p of params) {
    if (p.type === 'spec') continue;
    const raw = textOf(p);
    if (raw !== undefined) set(p.name, parse(p, raw), 'env');
  }

  // 5. VMA's adjustments
  if (get('socketXtreme') && get('progressEngineInterval') !== 0) {
    warnings.push(`VMA_PROGRESS_ENGINE_INTERVAL=${get('progressEngineInterval')} is forced to 0 because VMA_SOCKETXTREME=1 (as in VMA)`);
    set('progressEngineInterval', 0, 'adjusted');
  }
  if (get('tcpTimerResolutionMsec') < get('timerResolutionMsec')) {
    warnings.push(`VMA_TCP_TIMER_RESOLUTION_MSEC=${get('tcpTimerResolutionMsec')} is below VMA_TIMER_RESOLUTION_MSEC; raised to ${get('timerResolutionMsec')} (as in VMA)`);
    set('tcpTimerResolutionMsec', get('timerResolutionMsec'), 'adjusted');
  }
  for (const [wre, batch] of [['txWre', 'txWreBatching'], ['rxWre', 'rxWreBatching']] as const) {
    if (get(wre) <= 2 * get(batch)) {
      warnings.push(`${byName.get(wre)!.env}=${get(wre)} is not above twice ${byName.get(batch)!.env}; raised to ${2 * get(batch)} (as in VMA)`);
      set(wre, 2 * get(batch), 'adjusted');
    }
  }

  // Logging: TSVMA_LOG wins over VMA_TRACELEVEL.
  if (sources.logLevel === 'env') {
    const log = get('logLevel');
    if (sources.traceLevel !== 'default' && pinoLevelOfTrace(get('traceLevel')) !== log) {
      warnings.push(`VMA_TRACELEVEL=${traceLevelName(get('traceLevel'))} is overridden by TSVMA_LOG=${log}`);
    }
    if (pinoLevelOfTrace(get('traceLevel')) !== log) set('traceLevel', traceOfPinoLevel(log), 'derived');
  } else if (sources.traceLevel !== 'default') {
    set('logLevel', pinoLevelOfTrace(get('traceLevel')), 'derived');
  } else {
    set('traceLevel', traceOfPinoLevel(get('logLevel')), 'derived');
  }

  // TSVMA_*: what the values need of each other.
  const device = get('device');
  const addr = get('addr') as Ipv4Prefix | null;
  if (device?.kind === 'packet' && !addr) {
    throw new ConfigError('TSVMA_ADDR', env.TSVMA_ADDR || undefined,
      `must be set with TSVMA_DEVICE=${env.TSVMA_DEVICE}: the packet device owns an address of its own (e.g. TSVMA_ADDR=198.18.0.2/24)`);
  }
  const gateway = get('gateway');
  if (gateway !== null) {
    if (!addr) throw new ConfigError('TSVMA_GATEWAY', env.TSVMA_GATEWAY, 'needs TSVMA_ADDR, which says what network the gateway is on');
    const m = maskOf(addr.prefix);
    const net = `${formatIpv4Text((addr.ip & m) >>> 0)}/${addr.prefix}`;
    if (((gateway & m) >>> 0) !== ((addr.ip & m) >>> 0)) throw new ConfigError('TSVMA_GATEWAY', env.TSVMA_GATEWAY, `must be inside TSVMA_ADDR's network ${net}`);
    if (gateway === addr.ip) throw new ConfigError('TSVMA_GATEWAY', env.TSVMA_GATEWAY, 'must not be TSVMA_ADDR itself');
  }
  if (device?.kind === 'packet') {
    if (get('mac') === null) set('mac', macFromIp(addr!.ip), 'derived');
  } else if (get('mac') !== null) {
    warnings.push(`TSVMA_MAC is used by the packet device only; ignored${device ? ` with TSVMA_DEVICE=${env.TSVMA_DEVICE}` : ''}`);
    set('mac', null, 'adjusted');
  }
  if (!device && (addr || gateway !== null)) warnings.push('TSVMA_ADDR and TSVMA_GATEWAY have no effect without TSVMA_DEVICE');

  const top: Record<string, unknown> = {};
  const vma: Record<string, unknown> = {};
  for (const p of tsvmaParams) top[p.name] = values[p.name];
  for (const p of vmaParams) vma[p.name] = values[p.name];
  return deepFreeze({ ...top, vma, sources, warnings } as unknown as Config);
}

/** DESIGN.md: the packet device's default MAC is locally administered and derived from its address, 02:00:a.b.c.d. */
export function macFromIp(ip: number): number {
  return 0x020000000000 + (ip >>> 0);
}

export interface DescribedValue {
  readonly env: string;
  readonly value: string;
  readonly source: Source;
}

/**
 * What VMA prints at start-up: VMA_TRACELEVEL always, then every parameter whose value differs from
 * its default, with where the value came from.
 */
export function describeConfig(cfg: Config): DescribedValue[] {
  const out: DescribedValue[] = [];
  for (const p of [vmaParams[0], ...tsvmaParams, ...vmaParams.slice(1)] as readonly Param[]) {
    const text = formatParamValue(p, paramValue(cfg, p));
    if (p.name === 'traceLevel' || text !== formatParamValue(p, p.default)) {
      out.push({ env: p.env, value: text, source: cfg.sources[p.name as ParamName] });
    }
  }
  return out;
}
