/**
 * The listener -> worker hand-off memory: one single-producer single-consumer ring of datagrams in
 * a SharedArrayBuffer per (listener, worker) pair. The listener appends records and publishes its
 * write position; the worker reads up to the published position and then publishes how far it has
 * read. No message is posted per batch: waking an idle worker is wake.ts's job.
 *
 * Record layout (little endian): u16 payload length, u16 source port, u8 address length,
 * f64 receive time (µs, CLOCK_MONOTONIC), the address in ASCII, then the payload bytes. A record
 * never wraps: when it does not fit before the end of the ring, a length of 0xFFFF (or fewer than
 * a header's bytes left) tells the reader to continue at offset 0. The reader hands out offsets
 * into the ring's bytes, so nothing is allocated per datagram on either side.
 */

export const RECORD_HEADER_BYTES = 13;
/** Default ring size per (listener, worker) pair; a power of two. */
export const DEFAULT_RING_BYTES = 4 * 1024 * 1024;
const WRAP = 0xffff;
/** Int32 slots of a ring's control memory. */
const CONTROL = {
  /** How far the worker has read (bytes since the start). */
  read: 0,
  /** How far the listener has published. */
  write: 1,
  /** 1 once the listener has published its last record. */
  closed: 2,
} as const;
const CONTROL_SLOTS = 3;

/** The shared memory of one ring: data bytes and the control words. */
export interface Ring {
  data: SharedArrayBuffer;
  control: SharedArrayBuffer;
}

export function createRing(bytes = DEFAULT_RING_BYTES): Ring {
  if (bytes < 1024 || (bytes & (bytes - 1)) !== 0) {
    throw new RangeError(`ring size must be a power of two of at least 1024, got ${bytes}`);
  }
  return { data: new SharedArrayBuffer(bytes), control: new SharedArrayBuffer(4 * CONTROL_SLOTS) };
}

/** Positions are byte counts since the start, kept as int32 and compared by difference. */
const diff = (a: number, b: number) => (a - b) | 0;

/** The views both ends of a ring keep over its shared memory. */
abstract class RingView {
  /** The ring's bytes (records are read in place through offsets into this). */
  readonly bytes: Buffer;
  protected readonly view: DataView;
  protected readonly control: Int32Array;
  protected readonly size: number;

  constructor(ring: Ring) {
    this.bytes = Buffer.from(ring.data);
    this.view = new DataView(ring.data);
    this.control = new Int32Array(ring.control);
    this.size = ring.data.byteLength;
  }
}

export class RingWriter extends RingView {
  private write = 0;
  private published = 0;

  /**
   * Appends one record (the reader sees it after publish()); false when the ring has no room
   * (the reader is that far behind): the caller counts a queue drop.
   */
  add(payload: Uint8Array, address: string, port: number, recvUs: number): boolean {
    const need = RECORD_HEADER_BYTES + address.length + payload.length;
    const at = this.reserve(need);
    if (at < 0) return false;
    this.header(at, payload.length, port, address.length, recvUs);
    this.bytes.write(address, at + RECORD_HEADER_BYTES, "latin1");
    this.bytes.set(payload, at + RECORD_HEADER_BYTES + address.length);
    this.write = (this.write + need) | 0;
    return true;
  }

  /**
   * add() from bytes already in memory (the native listener's receive buffers): the payload is
   * src[start, start + length), the address text (ASCII) address[addressStart, +addressLength).
   * No string or view is made per datagram.
   */
  addFrom(
    src: Buffer,
    start: number,
    length: number,
    address: Uint8Array,
    addressStart: number,
    addressLength: number,
    port: number,
    recvUs: number,
  ): boolean {
    const need = RECORD_HEADER_BYTES + addressLength + length;
    const at = this.reserve(need);
    if (at < 0) return false;
    this.header(at, length, port, addressLength, recvUs);
    const bytes = this.bytes;
    const a = at + RECORD_HEADER_BYTES;
    for (let i = 0; i < addressLength; i++) bytes[a + i] = address[addressStart + i];
    src.copy(bytes, a + addressLength, start, start + length);
    this.write = (this.write + need) | 0;
    return true;
  }

  /** Makes the records appended so far visible to the reader; false when there were none. */
  publish(): boolean {
    if (this.write === this.published) return false;
    this.published = this.write;
    Atomics.store(this.control, CONTROL.write, this.write);
    return true;
  }

  /** After the last publish(): tells the reader nothing more will come. */
  close(): void {
    this.publish();
    Atomics.store(this.control, CONTROL.closed, 1);
  }

  private header(at: number, length: number, port: number, addressLength: number, us: number) {
    const view = this.view;
    view.setUint16(at, length, true);
    view.setUint16(at + 2, port, true);
    view.setUint8(at + 4, addressLength);
    view.setFloat64(at + 5, us, true);
  }

  /** Where a record of `need` bytes goes (wrapping to 0 when it does not fit before the end), or
   * -1 when the ring has no room; write advances by `need` once it is written. */
  private reserve(need: number): number {
    const at = this.write & (this.size - 1);
    const tail = this.size - at;
    const padding = tail < need ? tail : 0;
    const used = diff(this.write, Atomics.load(this.control, CONTROL.read));
    if (used + padding + need > this.size) return -1;
    if (padding === 0) return at;
    if (tail >= 2) this.view.setUint16(at, WRAP, true);
    this.write = (this.write + padding) | 0;
    return 0;
  }
}

/**
 * Walks the published records. After next() returns true, the record is at offsets into `bytes`
 * (valid until release()).
 */
export class RingReader extends RingView {
  addrAt = 0;
  addrLen = 0;
  payloadAt = 0;
  payloadLen = 0;
  port = 0;
  recvUs = 0;
  private read = 0;
  private end = 0;

  /** True when records are published that this reader has not taken yet. */
  pending(): boolean {
    return Atomics.load(this.control, CONTROL.write) !== this.read;
  }

  /** True once the writer has closed the ring and every record is read. */
  drained(): boolean {
    return Atomics.load(this.control, CONTROL.closed) === 1 && !this.pending();
  }

  /** Starts a batch: the records published so far (later ones wait for the next batch). */
  begin(): void {
    this.end = Atomics.load(this.control, CONTROL.write);
  }

  next(): boolean {
    if (diff(this.end, this.read) <= 0) return false;
    let at = this.read & (this.size - 1);
    const tail = this.size - at;
    if (tail < RECORD_HEADER_BYTES || this.view.getUint16(at, true) === WRAP) {
      this.read = (this.read + tail) | 0;
      if (diff(this.end, this.read) <= 0) return false;
      at = 0;
    }
    const view = this.view;
    const length = view.getUint16(at, true);
    this.port = view.getUint16(at + 2, true);
    const addressLength = view.getUint8(at + 4);
    this.recvUs = view.getFloat64(at + 5, true);
    this.addrAt = at + RECORD_HEADER_BYTES;
    this.addrLen = addressLength;
    this.payloadAt = this.addrAt + addressLength;
    this.payloadLen = length;
    this.read = (this.read + RECORD_HEADER_BYTES + addressLength + length) | 0;
    return true;
  }

  /** The current record's address as text (allocates: for tests and diagnostics). */
  addressText(): string {
    return this.bytes.toString("latin1", this.addrAt, this.addrAt + this.addrLen);
  }

  /** Gives the bytes read so far back to the writer (offsets are invalid after this). */
  release(): void {
    Atomics.store(this.control, CONTROL.read, this.read);
  }
}
