/**
 * A batch of prepared datagrams in one Buffer, described by offset/length arrays: the shape the
 * native sendBatch() (sendmmsg) takes, so a whole batch crosses into C with one call and no
 * per-datagram objects. Reused batch after batch: nothing is allocated per datagram.
 *
 * The datagrams are either written into the batch's own buffer (`used` grows), or described in
 * place in a caller's buffer the batch borrows until it is cleared (`borrow`, `describe`): no
 * copy, as udp-batch does with the engine's slab.
 */
export class DatagramBatch {
  /** The buffer the offsets point into: the batch's own, or a borrowed one until clear(). */
  buffer: Buffer;
  private readonly own: Buffer;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  /**
   * Per entry: the size of each of its equal datagrams when it holds several laid end to end
   * (one UDP GSO send), else 0.
   */
  readonly segments: Uint16Array;
  readonly capacity: number;
  /** Datagrams in the batch. */
  count = 0;
  /** Bytes of `buffer` in use. */
  used = 0;

  constructor(maxDatagrams: number, maxBytes: number) {
    if (!Number.isInteger(maxDatagrams) || maxDatagrams < 1)
      throw new RangeError("a batch holds at least one datagram");
    this.capacity = maxDatagrams;
    // allocUnsafeSlow: a dedicated (not pooled) buffer, since it lives as long as the transport.
    this.own = this.buffer = Buffer.allocUnsafeSlow(maxBytes);
    this.offsets = new Uint32Array(maxDatagrams);
    this.lengths = new Uint32Array(maxDatagrams);
    this.segments = new Uint16Array(maxDatagrams);
  }

  /** Whether one more datagram of `bytes` fits. */
  fits(bytes: number): boolean {
    return this.count < this.capacity && this.used + bytes <= this.buffer.length;
  }

  /** Records a datagram of `length` bytes just written at `this.used`. */
  commit(length: number): void {
    this.offsets[this.count] = this.used;
    this.lengths[this.count] = length;
    this.segments[this.count] = 0;
    this.count++;
    // Keep every datagram 8-byte aligned: the header writes stay aligned, and it costs < 8 bytes.
    this.used += (length + 7) & ~7;
  }

  /** Points the (empty) batch at `buffer`, whose datagrams it then describes in place. */
  borrow(buffer: Buffer): void {
    this.buffer = buffer;
  }

  /** Records a datagram at buffer[offset, offset + length) of a borrowed buffer. */
  describe(offset: number, length: number): void {
    this.offsets[this.count] = offset;
    this.lengths[this.count] = length;
    this.segments[this.count] = 0;
    this.count++;
  }

  /**
   * Records a datagram of `length` bytes that lies right after the last entry's bytes as one
   * more segment of it (the same length as each of its datagrams: one GSO send).
   */
  extend(length: number): void {
    const last = this.count - 1;
    this.segments[last] = length;
    this.lengths[last] += length;
    this.used = (this.offsets[last] + this.lengths[last] + 7) & ~7;
  }

  clear(): void {
    this.count = 0;
    this.used = 0;
    this.buffer = this.own;
  }
}
