/**
 * The part the raw and udp-batch transports share: datagrams collect in a DatagramBatch and
 * leave with one native sendBatch (sendmmsg) call when the batch is full or on flush(). The
 * call is synchronous: it returns once the kernel has taken every datagram (or refused it), so
 * flush() never needs a promise and the engine may reuse its payload slab at once.
 */
import { constants } from "node:os";
import { type Counters, zeroCounters } from "../counters.ts";
import { TRANSPORT_COUNTERS, type Transport } from "../transport.ts";
import { DatagramBatch } from "./batch.ts";
import type { NetRaw } from "./native.ts";

/** Datagrams per sendmmsg call: past a few hundred the syscall saving is already > 99%. */
export const BATCH_DATAGRAMS = 256;
/** Room per batch: 256 full netconsole datagrams, or one maximal UDP datagram. */
export const BATCH_BYTES = Math.max(BATCH_DATAGRAMS * 1056, 65_600);
/** Send buffer asked for (SO_SNDBUFFORCE when root): a whole batch or two in flight. */
export const SNDBUF_BYTES = 4 * 1024 * 1024;
/** The longest a full send queue may stall one batch before its rest counts as EAGAIN errors. */
export const SEND_TIMEOUT_MS = 200;

const ERRNO_NAMES = new Map<number, string>(
  Object.entries(constants.errno).map(([name, value]) => [value, name]),
);

export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno${errno}`;
}

export const BATCHED_COUNTERS = [...TRANSPORT_COUNTERS, "batches"] as const;

export class BatchSender {
  readonly batch = new DatagramBatch(BATCH_DATAGRAMS, BATCH_BYTES);
  readonly counters: Counters = zeroCounters(BATCHED_COUNTERS);
  private readonly result = new Int32Array(4);
  private readonly addon: NetRaw;
  private fd: number;
  /** Bytes in each datagram that are not payload (hand-built headers), for the `bytes` counter. */
  private readonly overheadBytes: number;
  private readonly destination: string | undefined;
  private readonly port: number | undefined;
  /** Per-datagram source addresses (udp-batch with IP(V6)_PKTINFO), or undefined. */
  readonly sources: Buffer | undefined;
  /** Whether entries may carry several datagrams (UDP GSO); see DatagramBatch.extend. */
  gso = false;

  constructor(
    addon: NetRaw,
    fd: number,
    options: { overheadBytes: number; destination?: string; port?: number; sourceBytes?: number },
  ) {
    this.addon = addon;
    this.fd = fd;
    this.overheadBytes = options.overheadBytes;
    this.destination = options.destination;
    this.port = options.port;
    this.sources = options.sourceBytes
      ? Buffer.alloc(BATCH_DATAGRAMS * options.sourceBytes)
      : undefined;
    this.counters.opened = 1;
  }

  /** Sends what the batch holds; counts sent datagrams, payload bytes and errors by errno name. */
  sendNow(): void {
    const batch = this.batch;
    if (batch.count === 0 || this.fd < 0) return;
    const r = this.result;
    this.addon.sendBatch(
      this.fd,
      batch.buffer,
      batch.offsets,
      batch.lengths,
      batch.count,
      r,
      this.destination,
      this.port,
      this.sources,
      this.gso ? batch.segments : undefined,
    );
    const c = this.counters;
    c.batches++;
    c.sent += r[0];
    c.bytes += r[3] - r[0] * this.overheadBytes;
    if (r[1] > 0) {
      c.errors += r[1];
      const key = `error.${errnoName(r[2])}`;
      c[key] = (c[key] ?? 0) + r[1];
    }
    batch.clear();
  }

  /**
   * Makes room for a datagram of `bytes`: sends the batch first when it is full. False (and
   * counted as an EMSGSIZE error) for a datagram larger than any batch.
   */
  room(bytes: number): boolean {
    if (this.batch.fits(bytes)) return true;
    this.sendNow();
    if (this.batch.fits(bytes)) return true;
    this.counters.errors++;
    this.counters["error.EMSGSIZE"] = (this.counters["error.EMSGSIZE"] ?? 0) + 1;
    return false;
  }

  close(): void {
    this.sendNow();
    if (this.fd >= 0) this.addon.close(this.fd);
    this.fd = -1;
  }
}

/** What raw and udp-batch share: nothing to prepare per host, a synchronous flush. */
export abstract class BatchedTransport implements Transport {
  abstract readonly name: string;
  protected readonly sender: BatchSender;

  constructor(sender: BatchSender) {
    this.sender = sender;
  }

  get counters(): Counters {
    return this.sender.counters;
  }

  prepare(): undefined {
    return undefined; // nothing per host: a source address is computed when its datagram is
  }

  abstract send(host: number, buffer: Buffer, offset: number, length: number): void;

  flush(): undefined {
    this.sender.sendNow();
    return undefined;
  }

  async close(): Promise<void> {
    this.sender.close();
  }
}
