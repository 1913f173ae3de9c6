/**
 * proto/wire — byte codecs, one file per header (Ethernet/802.1Q, ARP, IPv4, ICMP, IGMP, UDP, TCP).
 *
 * Layer contract: pure. Turns bytes into Reprs and Reprs into bytes; no I/O, no clock, no logging,
 * no module state on the parse/emit paths, and no allocation there (Reprs are caller-owned,
 * reusable out-parameters; a `Bytes` view is made once per memory region). May import nothing
 * outside proto/wire.
 *
 * Every header X has the same shape:
 * - `class XRepr`: plain fields with defaults, only the meaningful ones. Protocol numbers (ethertype,
 *   IP protocol, ARP op, ICMP/IGMP type) stay `number`, with a `const enum` naming the known values,
 *   so unknown values are representable and print as numbers.
 * - `parseX(b, off, len, out[, ...], verifyChecksum = true): WireStatus` (no flag for headers
 *   without a checksum; UDP/TCP also take the pseudo-header addresses): `len` is the number of bytes
 *   available from `off` (the caller's frame or IP-payload end). Never throws and never allocates on
 *   any bytes; checks every length before reading. On Ok, `out` is filled completely (nothing from a
 *   previous packet survives); on any other status its contents are unspecified.
 * - `xHeaderLen(repr)`: the header size the Repr describes.
 * - `emitX(repr, b, off, ...)`: writes every byte of the header it owns, sized from the Repr only
 *   (never from stale bytes in a recycled buffer), and returns the header length. Where a checksum
 *   covers the payload (ICMP, IGMP, UDP, TCP) the payload is already in place after the header when
 *   emit is called, and the emitter computes the checksum. An emitter throws RangeError only for a Repr no header can
 *   carry (programmer error).
 * - `formatX(repr)`: one tcpdump-like line (for logs, tools, test failures; allocates strings).
 * Statuses mean: Truncated (fewer bytes than the header or a declared length needs), BadLength (a
 * length field disagrees with itself), BadChecksum, Unsupported (a version/type/size the stack does
 * not handle), Malformed (a value the protocol forbids). The layer that drops counts exactly one.
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
