/**
 * libvma.conf: transport-selection rules (VMA's grammar, ../shared/reference/libvma-notes.md §2).
 *
 *   application-id PROGRAM_GLOB USER_ID
 *   use (vma|os|sdp|sa|*) (tcp_server|tcp_client|udp_sender|udp_receiver|udp_connect) ADDR:PORTS[:ADDR:PORTS]
 *   log ...                                   (accepted and ignored, as VMA marks it unsupported)
 *
 * ADDR is `a.b.c.d[/prefix]` or `*`; PORTS is `N`, `N-M` or `*`. `#` starts a comment. A malformed
 * line is reported as file:line and skipped; parsing never throws.
 *
 * Matching (§2.4): no instance at all → vma; the first instance whose program glob and user id match
 * is used; within it the role's first matching rule wins (the prefix mask is applied to both the
 * rule's and the socket's address; sdp/sa rules never match); no rule → vma.
 */
import * as fs from 'node:fs';
import { maskOf, parseIpv4Text } from './text';

export type Transport = 'vma' | 'os' | 'sdp' | 'sa' | '*';
export type Role = 'tcp_server' | 'tcp_client' | 'udp_sender' | 'udp_receiver' | 'udp_connect';
export const ROLES: readonly Role[] = ['tcp_server', 'tcp_client', 'udp_sender', 'udp_receiver', 'udp_connect'];
const TRANSPORTS: readonly Transport[] = ['vma', 'os', 'sdp', 'sa', '*'];

export interface AddrPorts {
  readonly ip: number;
  /** 0 for `*` (matches every address). */
  readonly prefix: number;
  readonly portLow: number;
  readonly portHigh: number;
}

export interface Rule {
  readonly transport: Transport;
  readonly role: Role;
  readonly first: AddrPorts;
  readonly second: AddrPorts | null;
  readonly source: string;
}

export interface Instance {
  readonly program: string;
  readonly userId: string;
  readonly rules: Record<Role, Rule[]>;
}

export interface RuleSet {
  readonly instances: Instance[];
  /** The instance the last `application-id` opened (where a bare add_conf_rule `use` line goes). */
  current: Instance | null;
}

export interface RuleError {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

export function emptyRuleSet(): RuleSet {
  return { instances: [], current: null };
}

function newInstance(program: string, userId: string): Instance {
  return { program, userId, rules: { tcp_server: [], tcp_client: [], udp_sender: [], udp_receiver: [], udp_connect: [] } };
}

function parsePorts(s: string): [number, number] | string {
  if (s === '*') return [0, 65535];
  const m = /^(0|[1-9]\d*)(?:-(0|[1-9]\d*))?$/.exec(s);
  if (!m) return `bad port "${s}" (expected N, N-M or *)`;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo > 65535 || hi > 65535) return `port out of range in "${s}"`;
  if (hi < lo) return `empty port range "${s}"`;
  return [lo, hi];
}

function parseAddrPorts(addr: string, ports: string): AddrPorts | string {
  let ip = 0;
  let prefix = 0;
  if (addr !== '*') {
    const m = /^([0-9.]+)(?:\/(0|[1-9]\d*))?$/.exec(addr);
    if (!m) return `bad address "${addr}" (expected a.b.c.d[/prefix] or *)`;
    ip = parseIpv4Text(m[1]);
    if (ip < 0) return `bad address "${m[1]}"`;
    // VMA clamps a prefix above 32 to 32.
    prefix = m[2] === undefined ? 32 : Math.min(Number(m[2]), 32);
  }
  const p = parsePorts(ports);
  if (typeof p === 'string') return p;
  return { ip, prefix, portLow: p[0], portHigh: p[1] };
}

function parseUse(words: string[], source: string): Rule | string {
  if (words.length !== 4) return 'expected: use TRANSPORT ROLE ADDR:PORTS[:ADDR:PORTS]';
  const transport = words[1] as Transport;
  if (!TRANSPORTS.includes(transport)) return `unknown transport "${words[1]}" (vma, os, sdp, sa or *)`;
  const role = words[2] as Role;
  if (!ROLES.includes(role)) return `unknown role "${words[2]}" (${ROLES.join(', ')})`;
  const parts = words[3].split(':');
  if (parts.length !== 2 && parts.length !== 4) return `bad tuple "${words[3]}" (expected ADDR:PORTS or ADDR:PORTS:ADDR:PORTS)`;
  const first = parseAddrPorts(parts[0], parts[1]);
  if (typeof first === 'string') return first;
  let second: AddrPorts | null = null;
  if (parts.length === 4) {
    const s = parseAddrPorts(parts[2], parts[3]);
    if (typeof s === 'string') return s;
    second = s;
  }
  return { transport, role, first, second, source };
}

/**
 * Parses rule text into `set` (a new set by default). With `pushToHead` (add_conf_rule) each `use`
 * rule goes before the existing rules of its role.
 */
export function parseRules(text: string, file: string, set: RuleSet = emptyRuleSet(), pushToHead = false): { rules: RuleSet; errors: RuleError[] } {
  const errors: RuleError[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const hash = raw.indexOf('#');
    const body = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (body === '') continue;
    const words = body.split(/\s+/);
    const err = (message: string): void => { errors.push({ file, line: i + 1, message }); };
    switch (words[0]) {
      case 'application-id': {
        if (words.length !== 3) {
          err('expected: application-id PROGRAM USER_ID');
          break;
        }
        let inst = set.instances.find((x) => x.program === words[1] && x.userId === words[2]);
        if (!inst) {
          inst = newInstance(words[1], words[2]);
          set.instances.push(inst);
        }
        set.current = inst;
        break;
      }
      case 'use': {
        const r = parseUse(words, `${file}:${i + 1}: ${body}`);
        if (typeof r === 'string') {
          err(r);
          break;
        }
        if (!set.current) {
          // Rules before any application-id belong to an implicit `* *` instance.
          let inst = set.instances.find((x) => x.program === '*' && x.userId === '*');
          if (!inst) {
            inst = newInstance('*', '*');
            set.instances.push(inst);
          }
          set.current = inst;
        }
        const list = set.current.rules[r.role];
        if (pushToHead) list.unshift(r);
        else list.push(r);
        break;
      }
      case 'log':
        // VMA's grammar has log statements but marks them "not fully supported"; tsvma logs through
        // TSVMA_LOG / VMA_TRACELEVEL / VMA_LOG_FILE instead.
        break;
      default:
        err(`unknown statement "${words[0]}" (expected application-id, use or log)`);
    }
  }
  return { rules: set, errors };
}

/** add_conf_rule: parses one line on top of the existing rules. Returns 0, or -1 when the line is malformed. */
export function addConfRule(set: RuleSet, line: string): 0 | -1 {
  const { errors } = parseRules(line, 'add_conf_rule', set, true);
  return errors.length === 0 ? 0 : -1;
}

/** Reads a rule file. A missing file is no rules (VMA offloads everything); other read errors are reported. */
export function loadRulesFile(path: string): { rules: RuleSet; errors: RuleError[]; missing: boolean } {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { rules: emptyRuleSet(), errors: [], missing: true };
    return { rules: emptyRuleSet(), errors: [{ file: path, line: 0, message: `cannot read: ${code ?? (e as Error).message}` }], missing: false };
  }
  return { ...parseRules(text, path), missing: false };
}

/** fnmatch(3) without flags: `*`, `?`, `[...]` (with `!`/`^` negation and ranges), `\` escapes. */
export function fnmatch(pattern: string, s: string): boolean {
  const match = (pi: number, si: number): boolean => {
    while (pi < pattern.length) {
      const c = pattern[pi];
      if (c === '*') {
        while (pattern[pi] === '*') pi++;
        if (pi === pattern.length) return true;
        for (let k = si; k <= s.length; k++) if (match(pi, k)) return true;
        return false;
      }
      if (si >= s.length) return false;
      if (c === '?') {
        pi++;
        si++;
        continue;
      }
      if (c === '[') {
        let j = pi + 1;
        const neg = pattern[j] === '!' || pattern[j] === '^';
        if (neg) j++;
        let ok = false;
        let first = true;
        while (j < pattern.length && (first || pattern[j] !== ']')) {
          first = false;
          const lo = pattern[j];
          if (pattern[j + 1] === '-' && j + 2 < pattern.length && pattern[j + 2] !== ']') {
            if (s[si] >= lo && s[si] <= pattern[j + 2]) ok = true;
            j += 3;
          } else {
            if (s[si] === lo) ok = true;
            j++;
          }
        }
        if (j >= pattern.length) {
          // No closing bracket: '[' is literal.
          if (s[si] !== '[') return false;
          pi++;
          si++;
          continue;
        }
        if (ok === neg) return false;
        pi = j + 1;
        si++;
        continue;
      }
      if (c === '\\' && pi + 1 < pattern.length) pi++;
      if (pattern[pi] !== s[si]) return false;
      pi++;
      si++;
    }
    return si === s.length;
  };
  return match(0, 0);
}

export interface Endpoint {
  readonly ip: number;
  readonly port: number;
}

export interface MatchQuery {
  readonly program: string;
  readonly appId: string;
  readonly role: Role;
  /** tcp_server, udp_receiver: the local address; tcp_client, udp_connect: the second pair. */
  readonly local?: Endpoint;
  /** tcp_client, udp_connect, udp_sender: the remote address (the first pair). */
  readonly remote?: Endpoint;
}

const UNBOUND: Endpoint = { ip: 0, port: 0 };

/** A missing endpoint is an unbound one (0.0.0.0:0), which only wildcard rules match. */
function matches(ap: AddrPorts, ep: Endpoint = UNBOUND): boolean {
  if (ep.port < ap.portLow || ep.port > ap.portHigh) return false;
  const m = maskOf(ap.prefix);
  return ((ap.ip & m) >>> 0) === ((ep.ip & m) >>> 0);
}

/** The first matching rule for the query, or null (which means vma). */
export function findRule(set: RuleSet, q: MatchQuery): Rule | null {
  const inst = set.instances.find((x) => (x.program === '*' || fnmatch(x.program, q.program)) && (x.userId === '*' || x.userId === q.appId));
  if (!inst) return null;
  const serverSide = q.role === 'tcp_server' || q.role === 'udp_receiver';
  const firstEp = serverSide ? q.local : q.remote;
  for (const r of inst.rules[q.role]) {
    if (r.transport === 'sdp' || r.transport === 'sa') continue;
    if (!matches(r.first, firstEp)) continue;
    if (r.second && !serverSide && !matches(r.second, q.local)) continue;
    return r;
  }
  return null;
}

/** The transport for a socket: 'os' when the first matching rule says os, else 'vma'. */
export function matchRule(set: RuleSet, q: MatchQuery): 'vma' | 'os' {
  if (set.instances.length === 0) return 'vma';
  return findRule(set, q)?.transport === 'os' ? 'os' : 'vma';
}

/** The rule table as text (for logs at debug level, as VMA dumps it after add_conf_rule). */
export function formatRules(set: RuleSet): string {
  const out: string[] = [];
  for (const inst of set.instances) {
    out.push(`application-id ${inst.program} ${inst.userId}`);
    for (const role of ROLES) for (const r of inst.rules[role]) out.push(`  ${r.source.replace(/^.*?: /, '')}`);
  }
  return out.join('\n');
}
