/**
 * Zero-copy holds on a receive buffer (VMA's recvfrom_zcopy / free_packets for TCP): the front
 * `bytes` of a connection's ByteRing are taken by the application, as records in arrival order.
 * Each record is freed on its own (in any order); the ring lets go of the bytes of the earliest
 * contiguous run of freed records, so the receive window reopens only when the front is freed.
 * Bytes copied out by recv() while holds exist are a record born freed (they sit behind a hold).
 *
 * Ids are per connection, increasing from 0; a record's id is `baseId + index`. Allocation: the
 * record arrays grow (amortised) with the number of outstanding holds, not per byte or segment.
 */
export class RxHolds {
  /** Bytes at the ring's front covered by records (held or freed behind a hold). */
  bytes = 0;
  private lens: number[] = [];
  private freed: boolean[] = [];
  /** Index of the earliest live record. */
  private first = 0;
  /** Id of the record at `first`. */
  private baseId = 0;

  /** Outstanding records (held or freed behind a held one). */
  get count(): number {
    return this.lens.length - this.first;
  }

  /** A new record of n bytes after the others; returns its id. A freed record merges into a freed last one. */
  push(n: number, isFreed: boolean): number {
    const last = this.lens.length - 1;
    this.bytes += n;
    if (isFreed && last >= this.first && this.freed[last]) {
      this.lens[last] += n;
      return this.baseId + (last - this.first);
    }
    this.lens.push(n);
    this.freed.push(isFreed);
    return this.baseId + (this.lens.length - 1 - this.first);
  }

  /** Whether `id` is a live record not yet freed. */
  isHeld(id: number): boolean {
    const i = id - this.baseId + this.first;
    return Number.isInteger(id) && i >= this.first && i < this.lens.length && !this.freed[i];
  }

  /**
   * Frees record `id`; returns the bytes that leave the front (the earliest contiguous freed
   * records, now forgotten) — 0 when an earlier record is still held — or -1 for an id that is
   * not held (unknown, or freed already).
   */
  free(id: number): number {
    if (!this.isHeld(id)) return -1;
    this.freed[id - this.baseId + this.first] = true;
    let n = 0;
    while (this.first < this.lens.length && this.freed[this.first]) {
      n += this.lens[this.first];
      this.first++;
      this.baseId++;
    }
    this.bytes -= n;
    if (this.first === this.lens.length) {
      this.lens.length = 0;
      this.freed.length = 0;
      this.first = 0;
    } else if (this.first >= 64 && 2 * this.first >= this.lens.length) {
      this.lens.splice(0, this.first);
      this.freed.splice(0, this.first);
      this.first = 0;
    }
    return n;
  }
}
