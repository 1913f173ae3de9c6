/**
 * proto/wire — byte codecs, one file per header.
 *
 * Contract: pure. Turns bytes into Reprs and Reprs into bytes; no I/O, no clock, no logging, no
 * module state on the parse/emit paths, and no allocation there (Reprs are caller-owned
 * out-parameters; a `Bytes` view is made once per memory region). Parsers return a `WireStatus`
 * and never throw on peer bytes; emitters write every byte they own, sized from the Repr only.
 * May import nothing outside proto/wire.
 */
export * from './bytes';
export * from './status';
export * from './checksum';
export * from './addr';
export * from './ethernet';
export * from './arp';
export * from './ipv4';
export * from './icmp';
export * from './igmp';
export * from './udp';
export * from './tcp';
export * from './seq';
export * from './frame';
