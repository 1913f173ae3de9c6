/**
 * The stack's named counters: every frame the stack drops increments exactly one of these
 * (STYLE rule 3), and `tsvma stats` shows them.
 */
export interface StackCounters {
  /** Ethernet header too short. */
  ethTruncated: number;
  /** Frames of an ethertype the stack does not speak (IPv6, LLDP, …). */
  ethUnknownType: number;
  /** Frames addressed to another MAC (a device without a MAC filter). */
  ethNotForUs: number;
  arpTruncated: number;
  /** ARP for another hardware/protocol type. */
  arpUnsupported: number;
  arpMalformed: number;
  /** ARP requests for addresses that are not ours (no answer, nothing learned). */
  arpNotForUs: number;
  arpRequestsSent: number;
  arpRepliesSent: number;
  arpRequestsAnswered: number;
  arpResolved: number;
  /** Resolutions that gave up after the retries; their queued packets were dropped. */
  arpFailed: number;
  /** Packets dropped because a neighbour's queue was full while it resolved. */
  arpQueueFull: number;
  ipTruncated: number;
  ipBadLength: number;
  ipBadChecksum: number;
  /** Not IPv4, or IHL < 5 / reserved flag set. */
  ipMalformed: number;
  ipUnsupported: number;
  /** IPv4 packets for addresses the stack does not own. */
  ipNotForUs: number;
  /** Multicast for a group (or from a source) the interface has not joined. */
  ipMulticastNotJoined: number;
  /** Fragments (reassembly arrives with UDP). */
  ipFragmentsDropped: number;
  /** IPv4 packets of a protocol with no handler. */
  ipNoProtocol: number;
  ipDelivered: number;
  icmpTruncated: number;
  icmpBadChecksum: number;
  icmpEchoRequests: number;
  icmpEchoReplies: number;
  /** ICMP messages of types the stack does not act on (counted, not errors). */
  icmpOther: number;
  /** Packets with no route to their destination. */
  noRoute: number;
  /** Transmit requests the TX pool could not meet. */
  txNoBuffer: number;
}

export function newStackCounters(): StackCounters {
  return {
    ethTruncated: 0, ethUnknownType: 0, ethNotForUs: 0,
    arpTruncated: 0, arpUnsupported: 0, arpMalformed: 0, arpNotForUs: 0, arpRequestsSent: 0, arpRepliesSent: 0,
    arpRequestsAnswered: 0, arpResolved: 0, arpFailed: 0, arpQueueFull: 0,
    ipTruncated: 0, ipBadLength: 0, ipBadChecksum: 0, ipMalformed: 0, ipUnsupported: 0, ipNotForUs: 0, ipMulticastNotJoined: 0,
    ipFragmentsDropped: 0, ipNoProtocol: 0, ipDelivered: 0,
    icmpTruncated: 0, icmpBadChecksum: 0, icmpEchoRequests: 0, icmpEchoReplies: 0, icmpOther: 0,
    noRoute: 0, txNoBuffer: 0,
  };
}
