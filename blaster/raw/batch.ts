/**
 * A batch of prepared datagrams in one Buffer, described by offset/length arrays: the shape the
 * native sendBatch() (sendmmsg) takes, so a whole batch crosses into C with one call and no
 * per-datagram objects. Reused batch after batch: nothing is allocated per datagram.
 */
export class DatagramBatch {
  readonly buffer: Buffer;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
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
    this.buffer = Buffer.allocUnsafeSlow(maxBytes);
    this.offsets = new Uint32Array(maxDatagrams);
    this.lengths = new Uint32Array(maxDatagrams);
  }

  /** Whether one more datagram of `bytes` fits. */
  fits(bytes: number): boolean {
    return this.count < this.capacity && this.used + bytes <= this.buffer.length;
  }

  /** Records a datagram of `length` bytes just written at `this.used`. */
  commit(length: number): void {
    this.offsets[this.count] = this.used;
    this.lengths[this.count] = length;
    this.count++;
    // Keep every datagram 8-byte aligned: the header writes stay aligned, and it costs < 8 bytes.
    this.used += (length + 7) & ~7;
  }

  clear(): void {
    this.count = 0;
    this.used = 0;
  }
}
