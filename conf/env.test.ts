import { ConfigError, describeConfig, resolveConfig } from './env';
import { macFromIp, parseDevice } from './tsvma';
import { parseIpv4Text as ip } from './text';

describe('resolveConfig', () => {
  it('gives VMA defaults with an empty environment, frozen', () => {
    const c = resolveConfig({});
    expect(c.vma.rxPoll).toBe(100000);
    expect(c.vma.cqPollBatchMax).toBe(16);
    expect(c.vma.traceLevel).toBe(3);
    expect(c.vma.udp3tRules).toBe(true);
    expect(c.device).toBeNull();
    expect(c.logLevel).toBe('warn');
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.vma)).toBe(true);
    expect(() => { (c.vma as { rxPoll: number }).rxPoll = 1; }).toThrow(TypeError);
    expect(describeConfig(c)).toEqual([]);
  });

  it('parses ints, bools and trace levels and names the variable on error', () => {
    const c = resolveConfig({ VMA_RX_POLL: '-1', VMA_TCP_NODELAY: '1', VMA_TRACELEVEL: 'debug' });
    expect(c.vma.rxPoll).toBe(-1);
    expect(c.vma.tcpNodelay).toBe(true);
    expect(c.vma.traceLevel).toBe(5);
    expect(c.logLevel).toBe('debug');
    expect(resolveConfig({ VMA_TRACELEVEL: '-1' }).logLevel).toBe('silent');
    expect(() => resolveConfig({ VMA_CQ_POLL_BATCH_MAX: '500' })).toThrow('VMA_CQ_POLL_BATCH_MAX="500": must be an integer from 1 to 128');
    expect(() => resolveConfig({ VMA_RX_POLL: '12abc' })).toThrow(/VMA_RX_POLL="12abc": must be an integer/);
    expect(() => resolveConfig({ VMA_TCP_CC_ALGO: '3' })).toThrow('VMA_TCP_CC_ALGO="3": must be one of 0, 1, 2');
    expect(() => resolveConfig({ VMA_TCP_NODELAY: 'yes' })).toThrow('VMA_TCP_NODELAY="yes": must be 0 or 1');
    expect(() => resolveConfig({ VMA_TRACELEVEL: 'loud' })).toThrow(/VMA_TRACELEVEL="loud": must be -1 to 8 or one of none, panic/);
    try {
      resolveConfig({ VMA_RX_WRE: '0' });
      throw new Error('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).code).toBe('ERR_TSVMA_CONFIG');
      expect((e as ConfigError).variable).toBe('VMA_RX_WRE');
    }
  });

  it('applies VMA_SPEC profiles, and an explicit variable wins over the profile', () => {
    const lat = resolveConfig({ VMA_SPEC: 'latency' });
    expect(lat.profile).toBe('latency');
    expect(lat.vma.rxPoll).toBe(-1);
    expect(lat.vma.txWre).toBe(256);
    expect(lat.vma.tcpNodelay).toBe(true);
    expect(resolveConfig({ VMA_SPEC: '15' }).profile).toBe('latency');
    const over = resolveConfig({ VMA_SPEC: 'latency', VMA_RX_POLL: '5' });
    expect(over.vma.rxPoll).toBe(5);
    expect(over.vma.txWre).toBe(256);
    expect(describeConfig(over).map((d) => d.env)).toContain('VMA_RX_POLL');
    expect(() => resolveConfig({ VMA_SPEC: 'fastest' })).toThrow(/VMA_SPEC="fastest": must be one of latency/);
  });

  it('warns about unknown VMA_* variables and ignores them', () => {
    const c = resolveConfig({ VMA_NO_SUCH_THING: '1', PATH: '/bin' });
    expect(c.warnings).toEqual(['VMA_NO_SUCH_THING is not a parameter tsvma knows; ignored']);
  });

  it('resolves the TSVMA_* surface', () => {
    const c = resolveConfig({ TSVMA_DEVICE: 'packet:veth0', TSVMA_ADDR: '198.18.0.2/24', TSVMA_GATEWAY: '198.18.0.1', TSVMA_LOOPBACK: '1', TSVMA_LOG: 'info', VMA_TRACELEVEL: 'all' });
    expect(c.device).toEqual({ kind: 'packet', ifname: 'veth0' });
    expect(c.addr).toEqual({ ip: ip('198.18.0.2'), prefix: 24 });
    expect(c.gateway).toBe(ip('198.18.0.1'));
    expect(c.mac).toBe(macFromIp(ip('198.18.0.2')));
    expect(c.mac).toBe(0x0200c6120002);
    expect(c.loopback).toBe(true);
    expect(c.logLevel).toBe('info'); // TSVMA_LOG wins over VMA_TRACELEVEL
    expect(resolveConfig({ TSVMA_DEVICE: 'packet:veth0', TSVMA_ADDR: '198.18.0.2/24', TSVMA_MAC: '02:aa:bb:cc:dd:ee' }).mac).toBe(0x02aabbccddee);
  });

  it('rejects bad TSVMA_* values with what is accepted', () => {
    expect(() => resolveConfig({ TSVMA_DEVICE: 'packet:veth0' })).toThrow(/TSVMA_ADDR="": is required with TSVMA_DEVICE=packet:veth0/);
    expect(() => resolveConfig({ TSVMA_DEVICE: 'nic' })).toThrow(/TSVMA_DEVICE="nic": expected sim, packet:IFNAME/);
    expect(() => resolveConfig({ TSVMA_ADDR: '198.18.0.2' })).toThrow(/TSVMA_ADDR="198.18.0.2": expected an IPv4 address with a prefix length/);
    expect(() => resolveConfig({ TSVMA_ADDR: '198.18.0.300/24' })).toThrow(/is not an IPv4 address/);
    expect(() => resolveConfig({ TSVMA_ADDR: '198.18.0.2/24', TSVMA_GATEWAY: '198.19.0.1' })).toThrow(/TSVMA_GATEWAY="198.19.0.1": must be inside 198.18.0.2\/24/);
    expect(() => resolveConfig({ TSVMA_MAC: '01:00:5e:00:00:01', TSVMA_DEVICE: 'sim' })).toThrow(/multicast MAC/);
    expect(() => resolveConfig({ TSVMA_LOOPBACK: 'yes' })).toThrow(/TSVMA_LOOPBACK="yes": must be 0 or 1/);
    expect(() => resolveConfig({ TSVMA_LOG: 'loud' })).toThrow(/TSVMA_LOG="loud": expected one of fatal/);
  });

  it('parses every TSVMA_DEVICE form', () => {
    expect(parseDevice('sim')).toEqual({ kind: 'sim' });
    expect(parseDevice('verbs-eth:mlx5_0')).toEqual({ kind: 'verbs-eth', dev: 'mlx5_0', port: 1 });
    expect(parseDevice('verbs-ud:rxe0:2')).toEqual({ kind: 'verbs-ud', dev: 'rxe0', port: 2 });
    expect(parseDevice('daemon')).toEqual({ kind: 'daemon', socketPath: '/run/tsvma/ringd.sock' });
    expect(parseDevice('daemon:/tmp/r.sock')).toEqual({ kind: 'daemon', socketPath: '/tmp/r.sock' });
    expect(parseDevice('verbs-ud:rxe0:0')).toHaveProperty('error');
    expect(parseDevice('packet:')).toHaveProperty('error');
    expect(parseDevice('packet:a-name-that-is-too-long')).toHaveProperty('error');
  });
});
