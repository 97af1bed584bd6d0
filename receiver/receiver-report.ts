/**
 * The receiver's final report (`receive --json`, startReceiver's stop()), defined once as a zod
 * schema: the type the code builds and the parser readers of a saved report use. Field names
 * carry their units (Ms, Us, Bytes, Pps).
 */
import { z } from "zod";
import type { LatencySummary } from "../blaster/latency.ts";
import { SEQUENCE_COUNTERS, type SequenceCounter } from "./sequence.ts";

const count = z.number().int().min(0);

export const latencySummarySchema = z.strictObject({
  count,
  p50: z.number(),
  p90: z.number(),
  p99: z.number(),
  p999: z.number(),
  p9999: z.number(),
  max: z.number(),
}) satisfies z.ZodType<LatencySummary>;

/** The sequence tracker's counters the report carries (hosts are reported at the top level). */
type ReportedSequenceCounter = Exclude<SequenceCounter, "messages" | "hosts" | "hostsEvicted">;

const sequenceCounters = Object.fromEntries(
  SEQUENCE_COUNTERS.filter((n) => n !== "messages" && n !== "hosts" && n !== "hostsEvicted").map(
    (n) => [n, count],
  ),
) as Record<ReportedSequenceCounter, typeof count>;

const listenerKind = z.enum(["native", "dgram"]);

export const receiverReportSchema = z.strictObject({
  tool: z.literal("netcons-bench receive"),
  startedAt: z.string(),
  durationMs: count,
  /** Time from the first datagram read to the last, the span the rate is averaged over. */
  activeMs: count,
  stopReason: z.string(),
  /**
   * False when the run could not finish its drain (a second signal, a crash): the figures then
   * come from the threads' live counters and the sequence figures are missing.
   */
  complete: z.boolean(),
  config: z.strictObject({
    bind: z.string(),
    address: z.string(),
    port: count,
    listeners: count,
    workers: count,
    queueLimit: count,
    msgTimeoutMs: count,
    oosTimeoutMs: count,
    seqWindow: count,
    maxHosts: count,
    hostIdleMs: count,
    maxMessageBytes: count,
    fragmentTimeoutMs: count,
    batchDelayMs: count,
    ringBytes: count,
    /** The read path the listeners used, and what was asked for. */
    listener: listenerKind,
    listenerRequested: z.enum(["auto", "native", "dgram"]),
    output: z.string(),
  }),
  packets: z.strictObject({
    read: count,
    received: count,
    malformed: count,
    bytes: count,
    /** Datagrams read per second over the active time (first to last datagram). */
    ratePps: count,
  }),
  messages: z.strictObject({
    extended: count,
    legacy: count,
    fragments: count,
    reassembled: count,
    incomplete: count,
    duplicateFragments: count,
    fragmentsOverLimit: count,
    stamped: count,
    /** 1000-byte records that ended in the kernel's NUL (left out of the text). */
    nulTerminated: count,
    /** Extended messages dropped as seq duplicates (as ncrx drops them). */
    duplicates: count,
  }),
  sequence: z.strictObject({
    ...sequenceCounters,
    /** Part of `missing` found at the stream edges from the sender's truth (0 without it). */
    missingEdges: count,
    /** Hosts in the sender's truth never seen here (their whole range is in missingEdges). */
    truthHostsUnseen: count,
  }),
  drops: z.strictObject({
    kernel: count,
    queue: count,
    kernelRcvbufErrorsSystem: count,
    kernelCountersAvailable: z.boolean(),
  }),
  hosts: count,
  hostsTracked: count,
  hostsEvicted: count,
  rcvbuf: z.strictObject({ requestedBytes: count, grantedBytes: count, rmemMaxBytes: count }),
  queue: z.strictObject({ limit: count, maxDepth: count }),
  perWorker: z.array(
    z.strictObject({
      index: count,
      datagrams: count,
      messages: count,
      hosts: count,
      queueMaxDepth: count,
      busyUs: count,
      busyPercent: z.number().min(0),
    }),
  ),
  perListener: z.array(
    z.strictObject({
      index: count,
      datagrams: count,
      queueDrops: count,
      batches: count,
      socketErrors: count,
      /** Datagrams longer than the native path's 2048-byte slot, handed on cut. */
      truncated: count,
    }),
  ),
  latencyUs: z.strictObject({
    endToEnd: latencySummarySchema,
    queue: latencySummarySchema,
    processing: latencySummarySchema,
  }),
  /**
   * The histograms latencyUs summarises, HdrHistogram compressed base64 (blaster/latency.ts):
   * endToEnd and queue in µs, processing in ns. Reports merge exactly through them.
   */
  histograms: z.strictObject({ endToEnd: z.string(), queue: z.string(), processing: z.string() }),
  /** How many receiver runs this report covers (more than 1 once merged: `merge`). */
  mergedFrom: z.number().int().min(1),
  /** Threads that crashed or a sink that failed (their figures may be short). */
  failures: z.array(z.string()),
  /** Tuning advice for this receiver (left empty in a merged report: it is per receiver). */
  advice: z.array(
    z.strictObject({
      rule: z.string(),
      message: z.string(),
      figures: z.record(z.string(), z.number()),
    }),
  ),
});

export type ReceiverReport = z.infer<typeof receiverReportSchema>;
