/**
 * What a receiver worker does with each datagram, free of threads and sockets so it can be fed
 * directly (memory benchmark, tests): decode, reassemble fragments, track the host's sequence,
 * time the message, hand it to the sink. Time comes in as parameters.
 *
 * The hot path is handle(buf, addrAt, addrLen, payloadAt, payloadLen, recvUs, nowUs): it finds
 * the host by its address bytes (no key string), decodes into one reused DatagramView (text and
 * dictionary left undecoded), reads the latency stamp into a number, and makes the message object
 * and the key string only when the sink writes something (with --output none, never). It
 * allocates nothing for an unfragmented message of a known host. handleText() takes the address
 * as a string, for tests and benchmarks.
 */
import { type Histogram, newHistogram } from "../blaster/latency.ts";
import { foundStamp, stampAt } from "../blaster/stamp.ts";
import {
  DatagramView,
  DEFAULT_MAX_MESSAGE_BYTES,
  type DecodedExtended,
  type DecodedLegacy,
  decodeInto,
  Kind,
} from "./decode.ts";
import { Reassembler } from "./reassembly.ts";
import { Outcome, type SequenceOptions, SequenceTracker } from "./sequence.ts";
import type { Sink } from "./sinks.ts";

export interface CoreOptions {
  /** Cap on a reassembled message (ncfrag total). */
  maxMessageBytes?: number;
  /** Incomplete fragmented messages are given up after this long. */
  fragmentTimeoutMs?: number;
  sequence?: SequenceOptions;
}

/**
 * Per-worker counters. Every datagram is exactly one of malformed, legacy, fragments or an
 * unfragmented extended record, so `datagrams - malformed - legacy - fragments` of them were
 * whole records; whole records plus reassembled messages are the extended messages, each either
 * delivered (`extended`) or dropped as a seq duplicate (`duplicates`). `nulTerminated` counts
 * 1000-byte records that ended in the kernel's NUL (left out of the text).
 */
export const CORE_COUNTERS = [
  "datagrams",
  "bytes",
  "malformed",
  "extended",
  "legacy",
  "fragments",
  "stamped",
  "duplicates",
  "nulTerminated",
] as const;
export type CoreCounter = (typeof CORE_COUNTERS)[number];

/** How far into a legacy line the stamp may be (after a `[ secs.usecs] ` prefix). */
const LEGACY_STAMP_WINDOW = 64;

export class WorkerCore {
  readonly counters: Record<CoreCounter, number>;
  readonly sequence: SequenceTracker;
  readonly reassembler: Reassembler;
  /** Intended send time (stamp) to the moment the message is complete here, µs. */
  readonly endToEnd: Histogram = newHistogram();
  /** Same, for the current progress interval only (reset by the owner). */
  readonly endToEndInterval: Histogram = newHistogram();
  /** Receive time at the listener to the start of processing here, µs. */
  readonly queue: Histogram = newHistogram();
  /** Processing time per datagram, ns (recorded by the owner around handle()). */
  readonly processing: Histogram = newHistogram();
  private readonly sink: Sink;
  private readonly maxMessageBytes: number;
  private readonly view = new DatagramView();
  /** handleText()'s address bytes. */
  private addressScratch = Buffer.alloc(64);

  constructor(options: CoreOptions, sink: Sink) {
    const counters = {} as Record<CoreCounter, number>;
    for (const name of CORE_COUNTERS) counters[name] = 0;
    this.counters = counters;
    this.sink = sink;
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.sequence = new SequenceTracker(options.sequence);
    this.reassembler = new Reassembler({
      maxMessageBytes: options.maxMessageBytes,
      timeoutMs: options.fragmentTimeoutMs,
    });
    // Fragment state belongs to the host: a host evicted leaves nothing in the reassembler.
    this.sequence.onEvictSlot = (slot) => this.reassembler.forget(slot);
  }

  /**
   * Set once the sink failed (e.g. "EPIPE: the reader of stdout went away"); the sink then
   * writes nothing more, messages still count as received.
   */
  get sinkError(): string | null {
    return this.sink.error;
  }

  /**
   * One datagram: the source address text (ASCII) at buf[addrAt, addrAt + addrLen), the payload
   * at buf[payloadAt, payloadAt + payloadLen), received by a listener at `recvUs` and taken up
   * here at `nowUs` (both µs of CLOCK_MONOTONIC). The bytes are only read during the call.
   */
  handle(
    buf: Uint8Array,
    addrAt: number,
    addrLen: number,
    payloadAt: number,
    payloadLen: number,
    recvUs: number,
    nowUs: number,
  ): void {
    this.handleBytes(buf, addrAt, addrLen, buf, payloadAt, payloadLen, recvUs, nowUs);
  }

  /** handle() with the address as text (tests, benchmarks; copies the address). */
  handleText(source: string, payload: Uint8Array, recvUs: number, nowUs: number): void {
    if (source.length > this.addressScratch.length) {
      this.addressScratch = Buffer.alloc(source.length * 2);
    }
    const addrLen = this.addressScratch.write(source, 0, "latin1");
    this.handleBytes(this.addressScratch, 0, addrLen, payload, 0, payload.length, recvUs, nowUs);
  }

  private handleBytes(
    addr: Uint8Array,
    addrAt: number,
    addrLen: number,
    payload: Uint8Array,
    payloadAt: number,
    payloadLen: number,
    recvUs: number,
    nowUs: number,
  ): void {
    const c = this.counters;
    c.datagrams++;
    c.bytes += payloadLen;
    this.queue.recordValue(nowUs > recvUs ? nowUs - recvUs : 0);
    const nowMs = nowUs / 1000;
    const view = this.view;
    const kind = decodeInto(view, payload, payloadAt, payloadAt + payloadLen, this.maxMessageBytes);
    if (kind === Kind.malformed) {
      c.malformed++;
      return;
    }
    // Every source that sends something well formed is a host (counted, bounded, evicted).
    const slot = this.sequence.acquire(addr, addrAt, addrLen, nowMs);
    if (kind === Kind.legacy) {
      c.legacy++;
      this.deliver(slot, 1, stampAt(view.bytes, view.start, view.end, LEGACY_STAMP_WINDOW), nowUs);
      return;
    }
    let fragments = 1;
    if (view.isFragment) {
      c.fragments++;
      const whole = this.reassembler.addView(slot, view, nowMs);
      if (whole === null) return;
      view.setWhole(this.reassembler.completedHead!, whole);
      fragments = this.reassembler.completedFragments;
    } else if (view.kernelNul) {
      c.nulTerminated++;
    }
    const outcome = this.sequence.observeSlot(slot, view.seq, view.flags.emg, nowMs);
    if (outcome === Outcome.duplicate) {
      c.duplicates++; // dropped, as ncrx drops duplicates
      return;
    }
    c.extended++;
    this.deliver(slot, fragments, stampAt(view.bytes, view.dataStart, view.dataEnd), nowUs);
  }

  /** Times a message by its stamp (found: in foundStamp) and hands it to the sink. */
  private deliver(slot: number, fragments: number, stamped: boolean, nowUs: number): void {
    if (stamped) {
      this.counters.stamped++;
      const intendedUs = foundStamp.intendedUs;
      const e2e = nowUs > intendedUs ? nowUs - intendedUs : 0;
      this.endToEnd.recordValue(e2e);
      this.endToEndInterval.recordValue(e2e);
    }
    const sink = this.sink;
    if (sink.discards || sink.error !== null) return;
    const message = this.view.message() as DecodedExtended | DecodedLegacy;
    sink.write(this.sequence.keyOf(slot), message, fragments);
  }

  /** Periodic work: give up old fragments, holes and oos messages, evict idle hosts, flush. */
  tick(nowMs: number): void {
    this.reassembler.expire(nowMs);
    this.sequence.expire(nowMs);
    this.sink.flush();
  }

  /** End of run: what is still incomplete counts as incomplete; the sink is closed. */
  finish(nowMs: number): void {
    this.tick(nowMs);
    this.reassembler.flush();
    this.sink.close();
  }
}
