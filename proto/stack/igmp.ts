/**
 * The host side of IGMP: which multicast groups each interface has joined, for which sources, and
 * the reports that tell routers (and snooping switches) so.
 *
 * Read first: RFC 3376 §3 (socket state merged into interface state), §5 (host behaviour:
 * state-change reports, retransmission, answering queries), §7 (older-version queriers); RFC 2236
 * (v2 reports and leaves), RFC 1112 (v1). RFC 2113 for the Router Alert option every report carries.
 *
 * Sockets join and leave through `join`/`leave` (any-source when `source` is 0, else source-specific);
 * the interface's merged state lives in `Interface.groups` (RX filtering reads it). A change of that
 * state is reported at once and once more after a random delay up to the unsolicited report interval
 * (robustness variable 2). Queries are answered with current-state records after a random delay up
 * to their maximum response time. A v1 or v2 query switches the interface to that version's reports
 * until the older-querier timeout ends. The group's multicast MAC is attached as a flow on the
 * interface's ring while the group is joined (the device's MAC filter opens). Loopback interfaces
 * keep membership but send no reports. 224.0.0.1 is never joined or reported (RFC 3376 §5).
 */
import { isMulticastIpv4, multicastMacOf } from '../wire/addr';
import { IpProtocol } from '../wire/ipv4';
import {
  emitIgmp, emitIgmpV3Report, IGMP_V3_RECORD_MIN_LEN, IGMP_V3_REPORT_MIN_LEN, IgmpRecordType, IgmpRepr, IgmpType, igmpV3DecodeCode, parseIgmp,
  type IgmpV3Record,
} from '../wire/igmp';
import { WireStatus } from '../wire/status';
import { ALL_HOSTS, McGroup, type Interface } from './interface';
import { TX_HEADROOM, type Stack } from './stack';
import { Timer } from './timer_wheel';

/** 224.0.0.22: where IGMPv3 reports go. */
export const ALL_IGMPV3_ROUTERS = 0xe0000016;
/** 224.0.0.2: where IGMPv2 leaves go. */
export const ALL_ROUTERS = 0xe0000002;

export interface IgmpOptions {
  /** RFC 3376 §8.11 Unsolicited Report Interval (ms): 1 s for v3 (v2: 10 s). */
  unsolicitedReportMs: number;
  /** RFC 3376 §8.12 Older Version Querier Present Timeout (ms): robustness × query interval + response interval. */
  olderQuerierMs: number;
  /** Random source in [0, 1) (tests make it fixed). */
  random: () => number;
}

export const defaultIgmpOptions: IgmpOptions = { unsolicitedReportMs: 1000, olderQuerierMs: 260_000, random: Math.random };

export interface IgmpCounters {
  reportsSent: number;
  leavesSent: number;
  queriesReceived: number;
  /** Reports and leaves from other hosts (heard, not acted on). */
  othersReports: number;
  malformed: number;
  badChecksum: number;
}

/** The IGMP state of one interface. */
class IfcState {
  /** 3, or 2/1 while an older querier is present. */
  version = 3;
  olderUntil = 0;
  /** State-change records still to be retransmitted once, by group. */
  readonly changes = new Map<number, IgmpV3Record>();
  readonly retransmit: Timer;
  /** Query response: a general response pending, or these groups. */
  general = false;
  readonly queried = new Set<number>();
  readonly response: Timer;
  /** Attached multicast MAC flows (two groups can share a MAC). */
  readonly macs = new Map<number, number>();
  constructor(readonly ifc: Interface, host: IgmpHost) {
    this.retransmit = new Timer((now) => host.retransmitDue(this, now));
    this.response = new Timer((now) => host.responseDue(this, now));
  }
}

export class IgmpHost {
  readonly counters: IgmpCounters = { reportsSent: 0, leavesSent: 0, queriesReceived: 0, othersReports: 0, malformed: 0, badChecksum: 0 };
  readonly options: IgmpOptions;
  private readonly states = new Map<Interface, IfcState>();
  private readonly rx = new IgmpRepr();
  private readonly tx = new IgmpRepr();
  private readonly records: IgmpV3Record[] = [];

  constructor(private readonly stack: Stack, opts: Partial<IgmpOptions> = {}) {
    this.options = { ...defaultIgmpOptions, ...opts };
    stack.setProtocolHandler(IpProtocol.Igmp, (ifc, _ip, id, off, len, now) => {
      this.input(ifc, off, len, now);
      ifc.ring.rxPool.release(id);
    });
  }

  /** Tests: fixed randomness or intervals. */
  configure(opts: Partial<IgmpOptions>): void {
    Object.assign(this.options, opts);
  }

  /** The interface's IGMP version in use (3, or 2/1 while an older querier is present). */
  version(ifc: Interface, now: number): number {
    const st = this.states.get(ifc);
    if (!st) return 3;
    if (st.version < 3 && now >= st.olderUntil) st.version = 3;
    return st.version;
  }

  /**
   * A socket's membership was added: any-source when `source` is 0, else for that source.
   * The caller (the socket layer) has checked the socket's own state.
   */
  join(ifc: Interface, group: number, source: number, now: number): void {
    group >>>= 0;
    source >>>= 0;
    if (!isMulticastIpv4(group)) throw new RangeError(`IgmpHost.join: ${group} is not a multicast group`);
    let g = ifc.groups.get(group);
    const fresh = g === undefined;
    if (!g) {
      g = new McGroup(group);
      ifc.groups.set(group, g);
      this.attachMac(ifc, group);
    }
    const wasExclude = g.exclude;
    if (source === 0) {
      g.anySource++;
      if (!wasExclude) this.change(ifc, { recordType: IgmpRecordType.ChangeToExclude, group, sources: [] }, fresh, now);
    } else {
      const n = g.sources.get(source) ?? 0;
      g.sources.set(source, n + 1);
      if (!wasExclude && n === 0) this.change(ifc, { recordType: IgmpRecordType.AllowNewSources, group, sources: [source] }, fresh, now);
    }
  }

  /** A socket's membership (any-source when `source` is 0, else that source) was removed. */
  leave(ifc: Interface, group: number, source: number, now: number): void {
    group >>>= 0;
    source >>>= 0;
    const g = ifc.groups.get(group);
    if (!g) return;
    if (source === 0) {
      if (g.anySource === 0) return;
      g.anySource--;
    } else {
      const n = g.sources.get(source);
      if (n === undefined) return;
      if (n > 1) g.sources.set(source, n - 1);
      else g.sources.delete(source);
    }
    const gone = g.anySource === 0 && g.sources.size === 0;
    if (gone) {
      ifc.groups.delete(group);
      this.detachMac(ifc, group);
    }
    if (source === 0 && g.anySource === 0) {
      // EXCLUDE {} → INCLUDE {remaining sources} (an empty INCLUDE is the leave).
      this.change(ifc, { recordType: IgmpRecordType.ChangeToInclude, group, sources: [...g.sources.keys()] }, false, now, gone);
    } else if (source !== 0 && !g.exclude && !g.sources.has(source)) {
      this.change(ifc, { recordType: IgmpRecordType.BlockOldSources, group, sources: [source] }, false, now, gone);
    }
  }

  /** A new interface hears 224.0.0.1 (queries) from the start, as every multicast host (RFC 1112 §4). */
  addInterface(ifc: Interface): void {
    this.attachMac(ifc, ALL_HOSTS);
  }

  /** Groups joined on an interface (for stats and tests). */
  groups(ifc: Interface): { group: number; mode: 'exclude' | 'include'; sources: number[] }[] {
    return [...ifc.groups.values()].map((g) => ({ group: g.group, mode: g.exclude ? 'exclude' : 'include', sources: g.exclude ? [] : [...g.sources.keys()] }));
  }

  close(): void {
    for (const st of this.states.values()) {
      this.stack.timers.cancel(st.retransmit);
      this.stack.timers.cancel(st.response);
    }
    this.states.clear();
  }

  // ---------------------------------------------------------------------------------------------

  private state(ifc: Interface): IfcState {
    let st = this.states.get(ifc);
    if (!st) {
      st = new IfcState(ifc, this);
      this.states.set(ifc, st);
    }
    return st;
  }

  private attachMac(ifc: Interface, group: number): void {
    if (ifc.loopback) return;
    const st = this.state(ifc);
    const mac = multicastMacOf(group);
    const n = st.macs.get(mac) ?? 0;
    st.macs.set(mac, n + 1);
    if (n === 0) ifc.ring.attachFlow({ kind: 'multicast-mac', mac }, (id, t) => this.stack.input(ifc, id, t));
  }

  private detachMac(ifc: Interface, group: number): void {
    if (ifc.loopback) return;
    const st = this.state(ifc);
    const mac = multicastMacOf(group);
    const n = st.macs.get(mac) ?? 0;
    if (n > 1) st.macs.set(mac, n - 1);
    else {
      st.macs.delete(mac);
      ifc.ring.detachFlow({ kind: 'multicast-mac', mac });
    }
  }

  /** Reports an interface state change now and schedules its one retransmission (RFC 3376 §5.1). */
  private change(ifc: Interface, rec: IgmpV3Record, joined: boolean, now: number, left = false): void {
    if (ifc.loopback || rec.group === ALL_HOSTS) return;
    const st = this.state(ifc);
    const v = this.version(ifc, now);
    if (v < 3) {
      // v1/v2 know only whole-group membership: a report when the group is first joined, a leave (v2) when it is gone.
      if (joined) this.sendV2(ifc, v === 1 ? IgmpType.V1Report : IgmpType.V2Report, rec.group, now);
      else if (left && v === 2) this.sendV2(ifc, IgmpType.Leave, rec.group, now);
      return;
    }
    // A newer change of the group replaces the pending retransmission (§5.1 merges them; the latest state wins here).
    st.changes.set(rec.group, rec);
    this.records.length = 0;
    this.records.push(rec);
    this.sendV3(ifc, this.records, now);
    if (!st.retransmit.scheduled) this.stack.timers.schedule(st.retransmit, now + this.options.random() * this.options.unsolicitedReportMs);
  }

  /** @internal the retransmission timer. */
  retransmitDue(st: IfcState, now: number): void {
    if (st.changes.size === 0) return;
    this.records.length = 0;
    for (const r of st.changes.values()) this.records.push(r);
    st.changes.clear();
    if (this.version(st.ifc, now) === 3) this.sendV3(st.ifc, this.records, now);
  }

  /** @internal the query response timer. */
  responseDue(st: IfcState, now: number): void {
    const ifc = st.ifc;
    const v = this.version(ifc, now);
    const groups = st.general ? [...ifc.groups.keys()] : [...st.queried].filter((g) => ifc.groups.has(g));
    st.general = false;
    st.queried.clear();
    if (v < 3) {
      for (const g of groups) if (g !== ALL_HOSTS) this.sendV2(ifc, v === 1 ? IgmpType.V1Report : IgmpType.V2Report, g, now);
      return;
    }
    this.records.length = 0;
    for (const g of groups) {
      const m = ifc.groups.get(g)!;
      if (g === ALL_HOSTS) continue;
      this.records.push(m.exclude
        ? { recordType: IgmpRecordType.ModeIsExclude, group: g, sources: [] }
        : { recordType: IgmpRecordType.ModeIsInclude, group: g, sources: [...m.sources.keys()] });
    }
    if (this.records.length) this.sendV3(ifc, this.records, now);
  }

  private input(ifc: Interface, off: number, len: number, now: number): void {
    const m = this.rx;
    const st = parseIgmp(ifc.rxBytes, off, len, m);
    if (st !== WireStatus.Ok) {
      if (st === WireStatus.BadChecksum) this.counters.badChecksum++;
      else this.counters.malformed++;
      return;
    }
    if (m.type !== IgmpType.MembershipQuery) {
      this.counters.othersReports++;
      return;
    }
    this.counters.queriesReceived++;
    if (ifc.loopback) return;
    const s = this.state(ifc);
    let maxRespMs: number;
    if (m.version === 3) maxRespMs = igmpV3DecodeCode(m.maxRespCode) * 100;
    else {
      // RFC 3376 §7.2.1: an older querier switches the host to its version for the timeout.
      s.version = Math.min(this.version(ifc, now), m.version);
      s.olderUntil = now + this.options.olderQuerierMs;
      maxRespMs = m.version === 1 ? 10_000 : m.maxRespCode * 100;
    }
    if (m.group === 0 || m.version === 1) s.general = true;
    else if (ifc.groups.has(m.group)) s.queried.add(m.group);
    else return;
    const at = now + this.options.random() * maxRespMs;
    // §5.2: an earlier pending response stands; otherwise this one's delay.
    if (!s.response.scheduled) this.stack.timers.schedule(s.response, at);
  }

  private sendV3(ifc: Interface, records: readonly IgmpV3Record[], now: number): void {
    const ring = ifc.ring;
    // As many records as fit one frame per report (IP header with Router Alert: 24 bytes).
    const room = ifc.mtu - 24;
    let i = 0;
    while (i < records.length) {
      let n = 1;
      let size = IGMP_V3_REPORT_MIN_LEN + IGMP_V3_RECORD_MIN_LEN + 4 * records[i].sources.length;
      for (; i + n < records.length; n++) {
        size += IGMP_V3_RECORD_MIN_LEN + 4 * records[i + n].sources.length;
        if (size > room) break;
      }
      const batch = i === 0 && n === records.length ? records : records.slice(i, i + n);
      const id = ring.allocTx(TX_HEADROOM);
      if (id < 0) {
        this.stack.counters.txNoBuffer++;
        return;
      }
      const pool = ring.txPool;
      const len = emitIgmpV3Report(batch, ifc.txBytes, pool.start(id));
      pool.append(id, len);
      this.counters.reportsSent++;
      this.stack.sendIpv4(ifc, id, ALL_IGMPV3_ROUTERS, IpProtocol.Igmp, now, IGMP_IP_OPTIONS);
      i += n;
    }
  }

  private sendV2(ifc: Interface, type: number, group: number, now: number): void {
    const ring = ifc.ring;
    const id = ring.allocTx(TX_HEADROOM);
    if (id < 0) {
      this.stack.counters.txNoBuffer++;
      return;
    }
    const pool = ring.txPool;
    const m = this.tx;
    m.type = type;
    m.version = type === IgmpType.V1Report ? 1 : 2;
    m.maxRespCode = 0;
    m.group = group;
    const n = emitIgmp(m, ifc.txBytes, pool.start(id));
    pool.append(id, n);
    if (type === IgmpType.Leave) this.counters.leavesSent++;
    else this.counters.reportsSent++;
    this.stack.sendIpv4(ifc, id, type === IgmpType.Leave ? ALL_ROUTERS : group, IpProtocol.Igmp, now, IGMP_IP_OPTIONS);
  }
}

/** TTL 1, Router Alert, and the Internetwork Control precedence Linux uses for IGMP (TOS 0xc0). */
const IGMP_IP_OPTIONS = { ttl: 1, tos: 0xc0, dontFragment: false, routerAlert: true };
