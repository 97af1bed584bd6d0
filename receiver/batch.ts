/**
 * The listener -> worker hand-off: datagrams packed into one ArrayBuffer with a small header
 * each, transferred (not copied) with one postMessage per batch instead of one per datagram.
 *
 * Record layout (little endian): u16 payload length, u16 source port, u8 address length,
 * f64 receive time (µs, CLOCK_MONOTONIC), the address in ASCII, then the payload bytes.
 */

export const RECORD_HEADER_BYTES = 13;
/** Default batch capacity; a datagram too big for it gets a batch of its own size. */
export const DEFAULT_BATCH_BYTES = 32 * 1024;

/** What a listener posts to a worker's port. */
export type BatchMessage = { buffer: ArrayBuffer; used: number; count: number } | { end: true };

export class BatchWriter {
  count = 0;
  used = 0;
  private bytes: Buffer;
  private view: DataView;
  private readonly capacity: number;

  constructor(capacity = DEFAULT_BATCH_BYTES) {
    this.capacity = capacity;
    this.bytes = Buffer.from(new ArrayBuffer(capacity));
    this.view = new DataView(this.bytes.buffer);
  }

  /** Whether a record of this size still fits (an empty batch always takes one record). */
  fits(payloadBytes: number, addressBytes: number): boolean {
    return (
      this.count === 0 ||
      this.used + RECORD_HEADER_BYTES + addressBytes + payloadBytes <= this.bytes.length
    );
  }

  add(payload: Uint8Array, address: string, port: number, recvUs: number): void {
    const need = RECORD_HEADER_BYTES + address.length + payload.length;
    if (this.count === 0 && need > this.bytes.length) {
      this.bytes = Buffer.from(new ArrayBuffer(need));
      this.view = new DataView(this.bytes.buffer);
    }
    const at = this.used;
    const view = this.view;
    view.setUint16(at, payload.length, true);
    view.setUint16(at + 2, port, true);
    view.setUint8(at + 4, address.length);
    view.setFloat64(at + 5, recvUs, true);
    this.bytes.write(address, at + RECORD_HEADER_BYTES, "latin1");
    this.bytes.set(payload, at + RECORD_HEADER_BYTES + address.length);
    this.used = at + need;
    this.count++;
  }

  /** Hands the filled buffer over (to be transferred) and starts a fresh one. */
  take(): { buffer: ArrayBuffer; used: number; count: number } {
    const out = { buffer: this.bytes.buffer as ArrayBuffer, used: this.used, count: this.count };
    this.bytes = Buffer.from(new ArrayBuffer(this.capacity));
    this.view = new DataView(this.bytes.buffer);
    this.used = 0;
    this.count = 0;
    return out;
  }
}

/** Walks the records of one batch; fields are valid until the next call of next(). */
export class BatchReader {
  payload: Buffer = Buffer.alloc(0);
  address = "";
  port = 0;
  recvUs = 0;
  private bytes: Buffer = Buffer.alloc(0);
  private view = new DataView(new ArrayBuffer(0));
  private at = 0;
  private end = 0;

  reset(buffer: ArrayBuffer, used: number): void {
    this.bytes = Buffer.from(buffer, 0, used);
    this.view = new DataView(buffer, 0, used);
    this.at = 0;
    this.end = used;
  }

  next(): boolean {
    const at = this.at;
    if (at + RECORD_HEADER_BYTES > this.end) return false;
    const view = this.view;
    const length = view.getUint16(at, true);
    this.port = view.getUint16(at + 2, true);
    const addressLength = view.getUint8(at + 4);
    this.recvUs = view.getFloat64(at + 5, true);
    const addressAt = at + RECORD_HEADER_BYTES;
    this.address = this.bytes.toString("latin1", addressAt, addressAt + addressLength);
    const payloadAt = addressAt + addressLength;
    this.payload = this.bytes.subarray(payloadAt, payloadAt + length);
    this.at = payloadAt + length;
    return true;
  }
}

/**
 * Which worker owns a source: FNV-1a of the address text (port ignored, as netconsd hashes the
 * address only), so one host's state always lives in one worker.
 */
export function workerForAddress(address: string, workers: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < address.length; i++) {
    h ^= address.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % workers;
}

/**
 * Monotonic microseconds from performance.now(), which reads the same CLOCK_MONOTONIC as
 * stamp.ts monotonicUs() without allocating a BigInt per call; the offset is taken once per
 * thread (performance.now() counts from the thread's own time origin).
 */
export function fastMonotonicClock(monotonicUs: () => number): () => number {
  const offset = monotonicUs() - performance.now() * 1000;
  return () => performance.now() * 1000 + offset;
}
