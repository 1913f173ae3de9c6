/**
 * ARP neighbour cache for one interface (RFC 826 resolution, RFC 1122 §2.3.2.2 queueing, RFC 5227
 * §2.3 gratuitous announcement). States: Incomplete (requests going out, packets queued), Reachable
 * (confirmed), Stale (confirmation timed out: still used, re-probed with unicast requests on use).
 * Timers come from the stack's wheel; nothing here reads a clock.
 */
import { Timer } from './timer_wheel';

export const enum NeighborState {
  Incomplete = 0,
  Reachable = 1,
  Stale = 2,
  Probe = 3,
}

export const neighborStateName = ['INCOMPLETE', 'REACHABLE', 'STALE', 'PROBE'];

export interface ArpOptions {
  /** How long a confirmed entry stays Reachable (ms). Linux: base_reachable_time 30 s. */
  reachableMs: number;
  /** Interval between requests while resolving or probing (ms). Linux: retrans_time 1 s. */
  retransmitMs: number;
  /** Broadcast requests before giving up on an Incomplete entry. Linux: mcast_solicit 3. */
  requests: number;
  /** Unicast probes of a Stale entry before it is dropped (VMA_NEIGH_UC_ARP_QUATA). */
  unicastProbes: number;
  /** Packets queued per unresolved neighbour (RFC 1122 says at least one). */
  queueLimit: number;
}

export const defaultArpOptions: ArpOptions = { reachableMs: 30000, retransmitMs: 1000, requests: 3, unicastProbes: 3, queueLimit: 16 };

export class Neighbor {
  mac = 0;
  state = NeighborState.Incomplete;
  /** Requests or probes sent in the current state. */
  tries = 0;
  /** TX buffer ids waiting for resolution (IPv4 packets without their Ethernet header). */
  readonly pending: number[] = [];
  readonly timer: Timer;

  constructor(readonly ip: number, onTimer: (n: Neighbor, now: number) => void) {
    this.timer = new Timer((now) => onTimer(this, now));
  }
}
