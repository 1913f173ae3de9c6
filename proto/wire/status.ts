/**
 * What a parser says about peer bytes. Parsers never throw on bytes from the wire: they return one
 * of these, and the layer that drops the frame increments exactly one named counter.
 */
export const enum WireStatus {
  Ok = 0,
  /** Fewer bytes than the header (or a declared length) needs. */
  Truncated = 1,
  /** A length field disagrees with the bytes present or with itself. */
  BadLength = 2,
  /** A checksum did not verify. */
  BadChecksum = 3,
  /** Well formed, but a version/type/option the stack does not handle. */
  Unsupported = 4,
  /** A field holds a value the protocol forbids. */
  Malformed = 5,
}

export const wireStatusName: readonly string[] = ['ok', 'truncated', 'bad-length', 'bad-checksum', 'unsupported', 'malformed'];
