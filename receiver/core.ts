/**
 * What a receiver worker does with each datagram, free of threads and sockets so it can be fed
 * directly (memory benchmark, tests): decode, reassemble fragments, track the host's sequence,
 * time the message, hand it to the sink. Time comes in as parameters.
 */
import { type Histogram, newHistogram } from "../blaster/latency.ts";
import { parseStamp } from "../blaster/stamp.ts";
import { type DecodedExtended, type DecodedLegacy, decodePayload } from "./decode.ts";
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

export const CORE_COUNTERS = [
  "datagrams",
  "bytes",
  "malformed",
  "extended",
  "legacy",
  "fragments",
  "stamped",
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
  private readonly decodeOptions: { maxMessageBytes?: number };

  constructor(options: CoreOptions, sink: Sink) {
    const counters = {} as Record<CoreCounter, number>;
    for (const name of CORE_COUNTERS) counters[name] = 0;
    this.counters = counters;
    this.sink = sink;
    this.decodeOptions = { maxMessageBytes: options.maxMessageBytes };
    this.sequence = new SequenceTracker(options.sequence);
    this.reassembler = new Reassembler({
      maxMessageBytes: options.maxMessageBytes,
      timeoutMs: options.fragmentTimeoutMs,
    });
    // A host evicted from the tracker leaves nothing behind in the reassembler either.
    this.sequence.onEvict = (host) => this.reassembler.forget(host);
  }

  /**
   * One datagram from `source` (address text), received by a listener at `recvUs` and taken up
   * here at `nowUs` (both µs of CLOCK_MONOTONIC).
   */
  handle(source: string, payload: Buffer, recvUs: number, nowUs: number): void {
    const c = this.counters;
    c.datagrams++;
    c.bytes += payload.length;
    this.queue.recordValue(nowUs > recvUs ? nowUs - recvUs : 0);
    const nowMs = nowUs / 1000;
    const decoded = decodePayload(payload, this.decodeOptions);
    if (decoded.kind === "malformed") {
      c.malformed++;
      return;
    }
    if (decoded.kind === "legacy") {
      c.legacy++;
      this.sequence.touch(source, nowMs);
      this.deliver(source, decoded, 1, parseStamp(decoded.text, 0, LEGACY_STAMP_WINDOW), nowUs);
      return;
    }
    let message: DecodedExtended | null = decoded;
    let fragments = 1;
    if (decoded.fragment) {
      c.fragments++;
      message = this.reassembler.add(source, decoded, nowMs);
      if (message === null) return;
      fragments = this.reassembler.completedFragments;
    }
    const outcome = this.sequence.observe(source, message.seq, message.flags.emg, nowMs);
    if (outcome === Outcome.duplicate) return; // dropped, as ncrx drops duplicates
    c.extended++;
    this.deliver(source, message, fragments, parseStamp(message.data), nowUs);
  }

  private deliver(
    source: string,
    message: DecodedExtended | DecodedLegacy,
    fragments: number,
    stamp: { intendedUs: number } | null,
    nowUs: number,
  ): void {
    if (stamp !== null) {
      this.counters.stamped++;
      const e2e = nowUs > stamp.intendedUs ? nowUs - stamp.intendedUs : 0;
      this.endToEnd.recordValue(e2e);
      this.endToEndInterval.recordValue(e2e);
    }
    this.sink.write(source, message, fragments);
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
