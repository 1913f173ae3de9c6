import fc from 'fast-check';
import { ConfigError, describeConfig, formatParamValue, macFromIp, paramValue, resolveConfig, type Config } from './env';
import { params, tsvmaParams, vmaParams, type Param } from './params';
import { profiles } from './profiles';
import { parseIpv4Text as ip } from './text';
import { parseValue, traceLevelName } from './values';

/** The ConfigError resolveConfig throws for `env` (fails the test if it does not throw one). */
function errorOf(env: Record<string, string>): ConfigError {
  try {
    resolveConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error(`no error for ${JSON.stringify(env)}`);
}
const messageOf = (env: Record<string, string>): string => errorOf(env).message;
/** A value as the text of its variable. */
const envText = (p: Param, v: unknown): string =>
  typeof v === 'boolean' ? (v ? '1' : '0') : p.type === 'string' ? String(v) : p.type === 'level' ? traceLevelName(v as number) : p.type === 'enum' ? String(v) : formatParamValue(p, v);
const value = (cfg: Readonly<Config>, name: string): unknown => paramValue(cfg, params.find((p) => p.name === name) as Param);

describe('the parameter table', () => {
  it('has unique names and variables, VMA_* / TSVMA_* prefixes, and defaults inside their own ranges', () => {
    expect(new Set(params.map((p) => p.name)).size).toBe(params.length);
    expect(new Set(params.map((p) => p.env)).size).toBe(params.length);
    for (const p of tsvmaParams) expect(p.env).toMatch(/^TSVMA_[A-Z]+$/);
    for (const p of vmaParams) expect(p.env).toMatch(/^VMA_[A-Z0-9_]+$/);
    for (const p of params as readonly Param[]) {
      expect(p.doc.length).toBeGreaterThan(5);
      expect(p.honoured.length).toBeGreaterThan(5);
      if (p.default === null) continue;
      if (p.type === 'spec') continue;
      // The default, written as its variable's text, is accepted by the row's own rules.
      const back = parseValue(p.type, envText(p, p.default), p);
      expect([p.env, back]).toEqual([p.env, p.default]);
    }
  });

  it('includes every parameter the brief names', () => {
    const names = params.map((p) => p.env);
    for (const env of [
      'VMA_TRACELEVEL', 'VMA_LOG_FILE', 'VMA_LOG_DETAILS', 'VMA_STATS_FILE', 'VMA_STATS_SHMEM_DIR', 'VMA_STATS_FD_NUM', 'VMA_CONFIG_FILE',
      'VMA_APPLICATION_ID', 'VMA_SPEC', 'VMA_RX_POLL', 'VMA_RX_POLL_INIT', 'VMA_RX_UDP_POLL_OS_RATIO', 'VMA_SELECT_POLL', 'VMA_RX_BUFS',
      'VMA_TX_BUFS', 'VMA_RX_WRE', 'VMA_TX_WRE', 'VMA_TX_WRE_BATCHING', 'VMA_RX_WRE_BATCHING', 'VMA_CQ_POLL_BATCH_MAX', 'VMA_TX_MAX_INLINE',
      'VMA_RING_ALLOCATION_LOGIC_RX', 'VMA_RING_ALLOCATION_LOGIC_TX', 'VMA_RING_LIMIT_PER_INTERFACE', 'VMA_OFFLOADED_SOCKETS', 'VMA_MTU',
      'VMA_MSS', 'VMA_TCP_NODELAY', 'VMA_TCP_QUICKACK', 'VMA_TCP_CC_ALGO', 'VMA_TCP_TIMESTAMP_OPTION', 'VMA_TCP_MAX_SYN_RATE',
      'VMA_TCP_3T_RULES', 'VMA_UDP_3T_RULES', 'VMA_SOCKETXTREME', 'VMA_THREAD_MODE', 'VMA_TIMER_RESOLUTION_MSEC',
      'VMA_TCP_TIMER_RESOLUTION_MSEC', 'VMA_PROGRESS_ENGINE_INTERVAL', 'VMA_CQ_MODERATION_ENABLE', 'VMA_CQ_MODERATION_COUNT',
      'VMA_CQ_MODERATION_PERIOD_USEC', 'VMA_RX_BYTES_MIN', 'VMA_GRO_STREAMS_MAX', 'VMA_TX_MC_LOOPBACK', 'VMA_TX_NONBLOCKED_EAGAINS',
      'VMA_HW_TS_CONVERSION', 'VMA_NEIGH_UC_ARP_QUATA', 'VMA_NEIGH_UC_ARP_DELAY_MSEC', 'VMA_NEIGH_NUM_ERR_RETRIES',
      'VMA_WAIT_AFTER_JOIN_MSEC', 'VMA_CPU_USAGE_STATS', 'VMA_EXCEPTION_HANDLING',
      'TSVMA_DEVICE', 'TSVMA_ADDR', 'TSVMA_GATEWAY', 'TSVMA_MAC', 'TSVMA_LOOPBACK', 'TSVMA_LOG',
    ]) expect(names).toContain(env);
  });
});

describe('resolveConfig: defaults', () => {
  const c = resolveConfig({});

  it("gives VMA's defaults with an empty environment", () => {
    expect(c.vma.rxPoll).toBe(100000);
    expect(c.vma.cqPollBatchMax).toBe(16);
    expect(c.vma.txWre).toBe(2048);
    expect(c.vma.rxWre).toBe(16000);
    expect(c.vma.statsShmemDir).toBe('/tmp/');
    expect(c.vma.configFile).toBe('/etc/libvma.conf');
    expect(c.vma.applicationId).toBe('VMA_DEFAULT_APPLICATION_ID');
    expect(c.vma.udp3tRules).toBe(true);
    expect(c.vma.tcp3tRules).toBe(false);
    expect(c.vma.exceptionHandling).toBe(-1);
    expect(c.vma.spec).toBe('');
    expect(c.device).toBeNull();
    expect(c.addr).toBeNull();
    expect(c.mac).toBeNull();
    expect(c.loopback).toBe(false);
    expect(c.warnings).toEqual([]);
    for (const p of params) {
      if (p.name === 'traceLevel') continue;
      expect([p.env, value(c, p.name)]).toEqual([p.env, p.default]);
    }
  });

  it('logs at warn by default, and VMA_TRACELEVEL reads warn too', () => {
    expect(c.logLevel).toBe('warn');
    expect(c.vma.traceLevel).toBe(2);
    expect(c.sources.traceLevel).toBe('derived');
    expect(describeConfig(c)).toEqual([{ env: 'VMA_TRACELEVEL', value: 'warn', source: 'derived' }]);
  });

  it('is deeply frozen', () => {
    const d = resolveConfig({ TSVMA_DEVICE: 'packet:veth0', TSVMA_ADDR: '198.18.0.2/24', VMA_FOO: '1' });
    expect(Object.isFrozen(d)).toBe(true);
    expect(Object.isFrozen(d.vma)).toBe(true);
    expect(Object.isFrozen(d.device)).toBe(true);
    expect(Object.isFrozen(d.addr)).toBe(true);
    expect(Object.isFrozen(d.sources)).toBe(true);
    expect(Object.isFrozen(d.warnings)).toBe(true);
    expect(() => { (d.vma as { rxPoll: number }).rxPoll = 1; }).toThrow(TypeError);
    expect(() => { (d.addr as { prefix: number }).prefix = 8; }).toThrow(TypeError);
    expect(() => { (d.warnings as string[]).push('x'); }).toThrow(TypeError);
  });
});

describe('resolveConfig: each type', () => {
  it('int: optional sign and blanks; errors name the variable, the value and the range', () => {
    expect(resolveConfig({ VMA_RX_POLL: '-1' }).vma.rxPoll).toBe(-1);
    expect(resolveConfig({ VMA_RX_POLL: ' +250 ' }).vma.rxPoll).toBe(250);
    expect(resolveConfig({ VMA_CQ_POLL_BATCH_MAX: '128' }).vma.cqPollBatchMax).toBe(128);
    expect(messageOf({ VMA_CQ_POLL_BATCH_MAX: '500' })).toBe('VMA_CQ_POLL_BATCH_MAX="500": must be an integer from 1 to 128');
    expect(messageOf({ VMA_CQ_POLL_BATCH_MAX: '0' })).toBe('VMA_CQ_POLL_BATCH_MAX="0": must be an integer from 1 to 128');
    expect(messageOf({ VMA_RX_POLL: '12abc' })).toBe('VMA_RX_POLL="12abc": must be an integer from -1 to 100000000');
    expect(messageOf({ VMA_RX_POLL: '-2' })).toBe('VMA_RX_POLL="-2": must be an integer from -1 to 100000000');
    expect(messageOf({ VMA_STATS_FD_NUM: '1025' })).toBe('VMA_STATS_FD_NUM="1025": must be an integer from 0 to 1024');
    expect(messageOf({ VMA_MTU: '1.5' })).toMatch(/^VMA_MTU="1.5": must be an integer/);
    const e = errorOf({ VMA_RX_WRE: 'many' });
    expect(e.code).toBe('ERR_TSVMA_CONFIG');
    expect(e.name).toBe('ConfigError');
    expect(e.variable).toBe('VMA_RX_WRE');
    expect(e.value).toBe('many');
    expect(e).toBeInstanceOf(Error);
  });

  it('an empty value is unset, except for text parameters', () => {
    expect(resolveConfig({ VMA_RX_POLL: '' }).vma.rxPoll).toBe(100000);
    expect(resolveConfig({ VMA_STATS_SHMEM_DIR: '' }).vma.statsShmemDir).toBe('');
    expect(resolveConfig({ VMA_LOG_FILE: '/tmp/vma.%d.log' }).vma.logFile).toBe('/tmp/vma.%d.log');
  });

  it('enum: only the listed values, and the message lists their meanings', () => {
    expect(resolveConfig({ VMA_RING_ALLOCATION_LOGIC_RX: '31' }).vma.ringAllocationLogicRx).toBe(31);
    expect(resolveConfig({ VMA_TCP_CC_ALGO: '1' }).vma.tcpCcAlgo).toBe(1);
    expect(messageOf({ VMA_TCP_CC_ALGO: '3' })).toBe('VMA_TCP_CC_ALGO="3": must be one of 0 (lwIP (NewReno)), 1 (CUBIC), 2 (none)');
    expect(messageOf({ VMA_RING_ALLOCATION_LOGIC_TX: '2' })).toMatch(/^VMA_RING_ALLOCATION_LOGIC_TX="2": must be one of 0 \(per interface\), 1 \(per IP\), 10 \(per socket\), 20 \(per thread\), 30 \(per core\), 31/);
    expect(messageOf({ VMA_EXCEPTION_HANDLING: '-3' })).toMatch(/^VMA_EXCEPTION_HANDLING="-3": must be one of -2 \(exit on start-up failure\)/);
  });

  it('bool: 0/1 (and true/false)', () => {
    expect(resolveConfig({ VMA_TCP_NODELAY: '1' }).vma.tcpNodelay).toBe(true);
    expect(resolveConfig({ VMA_TCP_NODELAY: 'TRUE' }).vma.tcpNodelay).toBe(true);
    expect(resolveConfig({ VMA_UDP_3T_RULES: '0' }).vma.udp3tRules).toBe(false);
    expect(messageOf({ VMA_TCP_NODELAY: 'yes' })).toBe('VMA_TCP_NODELAY="yes": must be 0 or 1');
    expect(messageOf({ VMA_TCP_NODELAY: '2' })).toBe('VMA_TCP_NODELAY="2": must be 0 or 1');
  });

  it("level: VMA_TRACELEVEL takes VMA's names and VMA's own number spellings", () => {
    const lvl = (s: string): number => resolveConfig({ VMA_TRACELEVEL: s }).vma.traceLevel;
    expect(lvl('none')).toBe(-1);
    expect(lvl('PANIC')).toBe(0);
    expect(lvl('warning')).toBe(2);
    expect(lvl('information')).toBe(3);
    expect(lvl('details')).toBe(4);
    expect(lvl('debug')).toBe(5);
    expect(lvl('func')).toBe(6);
    expect(lvl('func+')).toBe(7);
    expect(lvl('all')).toBe(8);
    // VMA's vlogger: "4" is debug, "5" fine, "6" finer; there is no "7", "8" or "-1".
    expect(lvl('3')).toBe(3);
    expect(lvl('4')).toBe(5);
    expect(lvl('5')).toBe(6);
    expect(lvl('6')).toBe(7);
    expect(messageOf({ VMA_TRACELEVEL: '7' })).toMatch(/^VMA_TRACELEVEL="7": must be one of none, panic, error, warn, info, details, debug, fine, finer, all/);
    expect(messageOf({ VMA_TRACELEVEL: 'loud' })).toMatch(/^VMA_TRACELEVEL="loud": must be one of none/);
  });

  it('pinoLevel: TSVMA_LOG takes pino levels', () => {
    expect(resolveConfig({ TSVMA_LOG: 'TRACE' }).logLevel).toBe('trace');
    expect(messageOf({ TSVMA_LOG: 'loud' })).toBe('TSVMA_LOG="loud": must be one of fatal, error, warn, info, debug, trace, silent');
  });
});

describe('resolveConfig: logging, TSVMA_LOG and VMA_TRACELEVEL', () => {
  it('VMA_TRACELEVEL alone sets the pino level', () => {
    expect(resolveConfig({ VMA_TRACELEVEL: 'none' }).logLevel).toBe('silent');
    expect(resolveConfig({ VMA_TRACELEVEL: 'panic' }).logLevel).toBe('fatal');
    expect(resolveConfig({ VMA_TRACELEVEL: 'details' }).logLevel).toBe('debug');
    expect(resolveConfig({ VMA_TRACELEVEL: 'finer' }).logLevel).toBe('trace');
    expect(resolveConfig({ VMA_TRACELEVEL: 'info' }).sources.logLevel).toBe('derived');
  });

  it('TSVMA_LOG alone sets VMA_TRACELEVEL', () => {
    const c = resolveConfig({ TSVMA_LOG: 'debug' });
    expect([c.logLevel, c.vma.traceLevel, c.warnings]).toEqual(['debug', 5, []]);
    expect(resolveConfig({ TSVMA_LOG: 'silent' }).vma.traceLevel).toBe(-1);
    expect(resolveConfig({ TSVMA_LOG: 'trace' }).vma.traceLevel).toBe(8);
  });

  it('both set and disagreeing: TSVMA_LOG wins, VMA_TRACELEVEL follows it, with a warning', () => {
    const c = resolveConfig({ TSVMA_LOG: 'info', VMA_TRACELEVEL: 'all' });
    expect([c.logLevel, c.vma.traceLevel]).toEqual(['info', 3]);
    expect(c.warnings).toEqual(['VMA_TRACELEVEL=all is overridden by TSVMA_LOG=info']);
  });

  it('both set and agreeing: both kept, no warning', () => {
    const c = resolveConfig({ TSVMA_LOG: 'debug', VMA_TRACELEVEL: 'details' });
    expect([c.logLevel, c.vma.traceLevel, c.warnings]).toEqual(['debug', 4, []]);
  });

  it("a profile's level counts as set (7750 logs at warn)", () => {
    const c = resolveConfig({ VMA_SPEC: '7750' });
    expect([c.logLevel, c.vma.traceLevel, c.sources.traceLevel]).toEqual(['warn', 2, 'profile']);
    expect(resolveConfig({ VMA_SPEC: '7750', TSVMA_LOG: 'error' }).vma.traceLevel).toBe(1);
  });
});

describe('resolveConfig: precedence (defaults → SocketXtreme → VMA_SPEC → explicit)', () => {
  it('applies a profile; an explicit variable wins over it', () => {
    const lat = resolveConfig({ VMA_SPEC: 'latency' });
    expect(lat.vma.spec).toBe('latency');
    expect([lat.vma.rxPoll, lat.vma.txWre, lat.vma.txWreBatching, lat.vma.rxWre, lat.vma.tcpNodelay, lat.vma.threadMode, lat.vma.progressEngineInterval]).toEqual([-1, 256, 4, 256, true, 0, 100]);
    expect(lat.sources.rxPoll).toBe('profile');
    const over = resolveConfig({ VMA_SPEC: 'latency', VMA_RX_POLL: '5' });
    expect(over.vma.rxPoll).toBe(5);
    expect(over.sources.rxPoll).toBe('env');
    expect(over.vma.txWre).toBe(256);
    expect(describeConfig(over)).toContainEqual({ env: 'VMA_RX_POLL', value: '5', source: 'env' });
    expect(describeConfig(over)).toContainEqual({ env: 'VMA_TX_WRE', value: '256', source: 'profile' });
    expect(describeConfig(over)).toContainEqual({ env: 'VMA_SPEC', value: 'latency', source: 'env' });
  });

  it('accepts numeric codes and ignores case and blanks; rejects unknown profiles', () => {
    expect(resolveConfig({ VMA_SPEC: '15' }).vma.spec).toBe('latency');
    expect(resolveConfig({ VMA_SPEC: '10' }).vma.spec).toBe('ultra-latency');
    expect(resolveConfig({ VMA_SPEC: ' MCD-IRQ ' }).vma.spec).toBe('mcd-irq');
    expect(messageOf({ VMA_SPEC: 'fastest' })).toBe(
      'VMA_SPEC="fastest": must be one of latency (15), ultra-latency (10), multi_ring_latency, 29west (29), wombat_fh (554), mcd (623), mcd-irq (624), rti (784), 7750');
  });

  it('every profile value is valid for its row and appears in the resolved config', () => {
    for (const pr of profiles) {
      const c = resolveConfig({ VMA_SPEC: pr.name });
      for (const [k, v] of Object.entries(pr.values)) {
        const p = params.find((x) => x.name === k) as Param;
        expect([pr.name, k, p !== undefined]).toEqual([pr.name, k, true]);
        const back = parseValue(p.type, envText(p, v), p);
        expect([pr.name, k, back]).toEqual([pr.name, k, v]);
        expect([pr.name, k, value(c, k)]).toEqual([pr.name, k, v]);
      }
    }
  });

  it('VMA_SOCKETXTREME changes defaults before the profile and explicit values, and forces the progress engine off', () => {
    const sx = resolveConfig({ VMA_SOCKETXTREME: '1' });
    expect([sx.vma.rxWre, sx.vma.groStreamsMax, sx.vma.progressEngineInterval]).toEqual([1024, 0, 0]);
    expect(sx.sources.rxWre).toBe('socketxtreme');
    expect(sx.warnings).toEqual([]);
    expect(resolveConfig({ VMA_SOCKETXTREME: '1', VMA_SPEC: 'latency' }).vma.rxWre).toBe(256);
    expect(resolveConfig({ VMA_SOCKETXTREME: '1', VMA_RX_WRE: '4096' }).vma.rxWre).toBe(4096);
    const forced = resolveConfig({ VMA_SOCKETXTREME: '1', VMA_PROGRESS_ENGINE_INTERVAL: '50' });
    expect(forced.vma.progressEngineInterval).toBe(0);
    expect(forced.sources.progressEngineInterval).toBe('adjusted');
    expect(forced.warnings).toEqual(['VMA_PROGRESS_ENGINE_INTERVAL=50 is forced to 0 because VMA_SOCKETXTREME=1 (as in VMA)']);
    expect(resolveConfig({ VMA_SOCKETXTREME: '0' }).vma.rxWre).toBe(16000);
    expect(messageOf({ VMA_SOCKETXTREME: 'on' })).toBe('VMA_SOCKETXTREME="on": must be 0 or 1');
  });

  it("applies VMA's cross-parameter adjustments, with warnings", () => {
    const t = resolveConfig({ VMA_TIMER_RESOLUTION_MSEC: '50', VMA_TCP_TIMER_RESOLUTION_MSEC: '20' });
    expect(t.vma.tcpTimerResolutionMsec).toBe(50);
    expect(t.warnings).toEqual(['VMA_TCP_TIMER_RESOLUTION_MSEC=20 is below VMA_TIMER_RESOLUTION_MSEC; raised to 50 (as in VMA)']);
    const w = resolveConfig({ VMA_TX_WRE: '100' });
    expect(w.vma.txWre).toBe(128);
    expect(w.warnings).toEqual(['VMA_TX_WRE=100 is not above twice VMA_TX_WRE_BATCHING; raised to 128 (as in VMA)']);
    expect(resolveConfig({ VMA_RX_WRE: '129', VMA_RX_WRE_BATCHING: '64' }).vma.rxWre).toBe(129);
  });
});

describe('resolveConfig: unknown variables', () => {
  it('ignores unknown VMA_* and TSVMA_* variables with a warning, and other variables silently', () => {
    const c = resolveConfig({ VMA_NO_SUCH_THING: '1', TSVMA_DEVCE: 'sim', PATH: '/bin', VMAX: '1' });
    expect(c.warnings).toEqual(['TSVMA_DEVCE is not a parameter tsvma knows; ignored', 'VMA_NO_SUCH_THING is not a parameter tsvma knows; ignored']);
    expect(c.device).toBeNull();
  });
});

describe('resolveConfig: the TSVMA_* surface', () => {
  it('TSVMA_DEVICE: every form', () => {
    const dev = (s: string): unknown => resolveConfig({ TSVMA_DEVICE: s, TSVMA_ADDR: '198.18.0.2/24' }).device;
    expect(dev('sim')).toEqual({ kind: 'sim' });
    expect(dev('packet:veth0')).toEqual({ kind: 'packet', ifname: 'veth0' });
    expect(dev('packet:tsvma-a.100')).toEqual({ kind: 'packet', ifname: 'tsvma-a.100' });
    expect(dev('verbs-eth:mlx5_0')).toEqual({ kind: 'verbs-eth', dev: 'mlx5_0', port: 1 });
    expect(dev('verbs-eth:mlx5_1:2')).toEqual({ kind: 'verbs-eth', dev: 'mlx5_1', port: 2 });
    expect(dev('verbs-ud:rxe0')).toEqual({ kind: 'verbs-ud', dev: 'rxe0', port: 1 });
    expect(dev('daemon')).toEqual({ kind: 'daemon', socketPath: '/run/tsvma/ringd.sock' });
    expect(dev('daemon:/tmp/r.sock')).toEqual({ kind: 'daemon', socketPath: '/tmp/r.sock' });
    expect(resolveConfig({ TSVMA_DEVICE: '' }).device).toBeNull();
  });

  it('TSVMA_DEVICE: bad values say what is accepted', () => {
    expect(messageOf({ TSVMA_DEVICE: 'nic' })).toBe('TSVMA_DEVICE="nic": must be sim, packet:IFNAME, verbs-eth:DEV[:PORT], verbs-ud:DEV[:PORT] or daemon[:SOCKET_PATH]');
    expect(messageOf({ TSVMA_DEVICE: 'packet' })).toMatch(/^TSVMA_DEVICE="packet": packet:IFNAME needs a network interface name/);
    expect(messageOf({ TSVMA_DEVICE: 'packet:' })).toMatch(/packet:IFNAME needs/);
    expect(messageOf({ TSVMA_DEVICE: 'packet:a-name-that-is-too-long' })).toMatch(/1-15 characters/);
    expect(messageOf({ TSVMA_DEVICE: 'packet:a/b' })).toMatch(/packet:IFNAME needs/);
    expect(messageOf({ TSVMA_DEVICE: 'verbs-ud:rxe0:0' })).toMatch(/^TSVMA_DEVICE="verbs-ud:rxe0:0": verbs-ud:DEV\[:PORT\] needs .* port number 1-255/);
    expect(messageOf({ TSVMA_DEVICE: 'verbs-eth:' })).toMatch(/verbs-eth:DEV\[:PORT\] needs/);
    expect(messageOf({ TSVMA_DEVICE: 'verbs-eth:mlx5_0:1:2' })).toMatch(/verbs-eth:DEV\[:PORT\] needs/);
    expect(messageOf({ TSVMA_DEVICE: 'verbs-eth:mlx5_0:x' })).toMatch(/verbs-eth:DEV\[:PORT\] needs/);
    expect(messageOf({ TSVMA_DEVICE: 'daemon:' })).toMatch(/daemon:SOCKET_PATH needs a path/);
    expect(messageOf({ TSVMA_DEVICE: 'SIM' })).toMatch(/^TSVMA_DEVICE="SIM": must be sim/);
  });

  it('TSVMA_ADDR, TSVMA_GATEWAY, TSVMA_MAC, TSVMA_LOOPBACK', () => {
    const c = resolveConfig({ TSVMA_DEVICE: 'packet:veth0', TSVMA_ADDR: '198.18.0.2/24', TSVMA_GATEWAY: '198.18.0.1', TSVMA_LOOPBACK: '1' });
    expect(c.addr).toEqual({ ip: ip('198.18.0.2'), prefix: 24 });
    expect(c.gateway).toBe(ip('198.18.0.1'));
    expect(c.mac).toBe(0x0200c6120002);
    expect(c.mac).toBe(macFromIp(ip('198.18.0.2')));
    expect(c.sources.mac).toBe('derived');
    expect(c.loopback).toBe(true);
    expect(c.warnings).toEqual([]);
    const m = resolveConfig({ TSVMA_DEVICE: 'packet:veth0', TSVMA_ADDR: '198.18.0.2/24', TSVMA_MAC: '02-AA-bb-cc-dd-ee' });
    expect(m.mac).toBe(0x02aabbccddee);
    expect(describeConfig(m)).toContainEqual({ env: 'TSVMA_MAC', value: '02:aa:bb:cc:dd:ee', source: 'env' });
  });

  it('rejects bad addresses, gateways, MACs and loopback values', () => {
    expect(messageOf({ TSVMA_DEVICE: 'packet:veth0' })).toBe(
      'TSVMA_ADDR is not set: must be set with TSVMA_DEVICE=packet:veth0: the packet device owns an address of its own (e.g. TSVMA_ADDR=198.18.0.2/24)');
    expect(messageOf({ TSVMA_ADDR: '198.18.0.2' })).toBe('TSVMA_ADDR="198.18.0.2": must be an IPv4 address with a prefix length, e.g. 198.18.0.2/24');
    expect(messageOf({ TSVMA_ADDR: '198.18.0.300/24' })).toMatch(/"198.18.0.300" is not an IPv4 address/);
    expect(messageOf({ TSVMA_ADDR: '198.018.0.3/24' })).toMatch(/is not an IPv4 address/);
    expect(messageOf({ TSVMA_ADDR: '198.18.0.2/33' })).toBe('TSVMA_ADDR="198.18.0.2/33": must have a prefix length from 1 to 32');
    expect(messageOf({ TSVMA_ADDR: '198.18.0.2/0' })).toMatch(/prefix length from 1 to 32/);
    expect(messageOf({ TSVMA_ADDR: '198.18.0.2/24', TSVMA_GATEWAY: '198.19.0.1' })).toBe('TSVMA_GATEWAY="198.19.0.1": must be inside TSVMA_ADDR\'s network 198.18.0.0/24');
    expect(messageOf({ TSVMA_ADDR: '198.18.0.2/24', TSVMA_GATEWAY: '198.18.0.2' })).toMatch(/must not be TSVMA_ADDR itself/);
    expect(messageOf({ TSVMA_GATEWAY: '198.18.0.1' })).toMatch(/^TSVMA_GATEWAY="198.18.0.1": needs TSVMA_ADDR/);
    expect(messageOf({ TSVMA_GATEWAY: 'router' })).toBe('TSVMA_GATEWAY="router": must be an IPv4 address, e.g. 198.18.0.1');
    expect(messageOf({ TSVMA_MAC: '01:00:5e:00:00:01', TSVMA_DEVICE: 'sim' })).toMatch(/^TSVMA_MAC="01:00:5e:00:00:01": must be a unicast MAC/);
    expect(messageOf({ TSVMA_MAC: '00:00:00:00:00:00' })).toMatch(/all-zero/);
    expect(messageOf({ TSVMA_MAC: '02:00:00:00:00' })).toMatch(/must be a MAC address/);
    expect(messageOf({ TSVMA_MAC: '02:00-00:00:00:01' })).toMatch(/must be a MAC address/);
    expect(messageOf({ TSVMA_LOOPBACK: 'yes' })).toBe('TSVMA_LOOPBACK="yes": must be 0 or 1');
  });

  it('warns about settings without effect', () => {
    const c = resolveConfig({ TSVMA_DEVICE: 'sim', TSVMA_MAC: '02:00:00:00:00:01' });
    expect(c.mac).toBeNull();
    expect(c.warnings).toEqual(['TSVMA_MAC is used by the packet device only; ignored with TSVMA_DEVICE=sim']);
    expect(resolveConfig({ TSVMA_ADDR: '198.18.0.2/24' }).warnings).toEqual(['TSVMA_ADDR and TSVMA_GATEWAY have no effect without TSVMA_DEVICE']);
  });
});

describe('describeConfig', () => {
  it('lists VMA_TRACELEVEL first, then the values that differ from their defaults, with their source', () => {
    const c = resolveConfig({ VMA_TRACELEVEL: 'debug', VMA_SPEC: 'rti', VMA_TCP_CC_ALGO: '1', TSVMA_DEVICE: 'sim', VMA_RX_POLL: '-1' });
    expect(describeConfig(c)).toEqual([
      { env: 'VMA_TRACELEVEL', value: 'debug', source: 'env' },
      { env: 'TSVMA_DEVICE', value: 'sim', source: 'env' },
      { env: 'TSVMA_LOG', value: 'debug', source: 'derived' },
      { env: 'VMA_SPEC', value: 'rti', source: 'env' },
      { env: 'VMA_RX_POLL', value: '-1', source: 'env' },
      { env: 'VMA_TCP_CC_ALGO', value: '1 (CUBIC)', source: 'env' },
    ]);
  });
});

describe('property', () => {
  it('any text for any variable either resolves (frozen) or throws a ConfigError naming that variable', () => {
    const envNames = params.map((p) => p.env);
    const text = fc.oneof(fc.string({ maxLength: 12 }), fc.integer({ min: -3, max: 300000 }).map(String), fc.constantFrom('sim', 'packet:veth0', '198.18.0.2/24', 'latency', 'debug', '1', '0'));
    fc.assert(fc.property(fc.dictionary(fc.constantFrom(...envNames), text, { maxKeys: 4 }), (env) => {
      try {
        const c = resolveConfig(env);
        expect(Object.isFrozen(c)).toBe(true);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        const ce = e as ConfigError;
        expect(envNames).toContain(ce.variable);
        expect(ce.message.startsWith(ce.variable)).toBe(true);
      }
    }), { numRuns: 1500 });
  });
});
