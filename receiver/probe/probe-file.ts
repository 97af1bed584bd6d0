/**
 * The netconsd probe's figures file (written by receiver/probe/probe.c as JSON): its schema, and
 * its conversion into the project's own figures (summed over workers, latency as mergeable HDR
 * histograms). Pure: text in, figures out.
 *
 * The probe's histograms are HdrHistogram's own bucket layout for values in µs with 3
 * significant digits (values 0..2047 exact, then 1024 buckets per power of two), sent as
 * [bucket index, count] pairs. Each bucket's highest value is recorded with its count into a
 * histogram from blaster/latency.ts (the same layout): every count lands in the bucket its value
 * would have landed in, so percentiles are what recording every value would have given (the
 * maximum is its bucket's upper end, at most 0.1% high), and the result merges with the
 * receiver's histograms.
 */
import { z } from "zod";
import {
  encodeHistogram,
  type Histogram,
  type LatencySummary,
  newHistogram,
  summarize,
} from "../../blaster/latency.ts";

/** The probe's bucket layout this reader understands: 2^10 buckets per power of two. */
export const PROBE_HALF_COUNT_MAGNITUDE = 10;

const count = z.number().int().min(0);

const histogramSchema = z.strictObject({
  /** Values whose end came before their start (clocks that disagree), recorded as 0. */
  negative: count,
  /** Values above the largest trackable one, recorded as that. */
  clamped: count,
  /** [index, count, index, count, ...] of the non-empty buckets. */
  buckets: z.array(count).refine((a) => a.length % 2 === 0, "an even-length [index, count] list"),
});

const workerSchema = z.strictObject({
  index: count,
  /** Extended messages delivered to the outputs (netconsd's parsed `msg` form). */
  extended: count,
  /** Datagrams its state machine did not take (the `buf` form: legacy lines, unparsable). */
  legacy: count,
  oos: count,
  seqReset: count,
  /** Messages whose text carried a latency stamp (recorded in endToEndUs). */
  stamped: count,
  /** Time spent in the probe's handler (ns) in all, when self-timed (else 0). */
  handlerNsTotal: count,
  hosts: count,
  /** false: the exact host set filled up and `hosts` is a HyperLogLog estimate. */
  hostsExact: z.boolean(),
  endToEndUs: histogramSchema,
  /** Listener-to-output delay, `buf` form only (netconsd gives `msg` no receive time). */
  queueUs: histogramSchema,
  /** The handler's time per call in ns, when self-timed (else null). */
  handlerNs: histogramSchema.nullable(),
});

export const probeFileSchema = z.strictObject({
  format: z.literal("netcons-probe/1"),
  /** true: written at netconsd_output_exit (exact); false: an interval snapshot while running. */
  final: z.boolean(),
  pid: z.number().int(),
  intervalMs: count,
  /** NETCONS_PROBE_SELF_TIME=1: each worker's handlerNs is measured. */
  selfTimed: z.boolean(),
  writtenAtRealMs: count,
  histogram: z.strictObject({
    unit: z.literal("us"),
    layout: z.literal("hdr-log-linear"),
    halfCountMagnitude: z.literal(PROBE_HALF_COUNT_MAGNITUDE),
    maxValue: count,
  }),
  workers: z.array(workerSchema),
});
export type ProbeFile = z.infer<typeof probeFileSchema>;

/** What a trial, a report or `netcons-bench probe --read` takes from a probe file. */
export interface ProbeResult {
  /**
   * endToEnd: stamped messages of both forms. queue: the legacy/unparsed form only (netconsd
   * gives parsed messages no receive time), so count 0 with extended-only traffic: not measured,
   * not zero delay.
   */
  latencyUs: { endToEnd: LatencySummary; queue: LatencySummary };
  /** Encoded HDR histograms (blaster/latency.ts encodeHistogram), mergeable with the receiver's. */
  histograms: { endToEnd: string; queue: string };
  /** Summed over workers. hosts: netconsd sends each address to one worker, so the sum is exact. */
  delivered: { extended: number; legacy: number; oos: number; seqReset: number; hosts: number };
  perWorker: { index: number; delivered: number; hosts: number }[];
  /** false: an interval snapshot (netconsd did not reach its exit, or is still running). */
  final: boolean;
  /** Messages with a latency stamp (the end-to-end histogram's count). */
  stamped: number;
  /** false when some worker's host count is an estimate. */
  hostsExact: boolean;
  /**
   * The probe's own cost inside the target, when it was started with NETCONS_PROBE_SELF_TIME=1
   * (else null): its handler's mean time per message in ns, and the distribution per call
   * (wall time including one clock read; a call preempted by the scheduler counts whole, which
   * the median ignores and the mean does not).
   */
  handlerNsPerMessage: number | null;
  handlerNs: LatencySummary | null;
  /**
   * The mean over calls shorter than STEADY_CALL_NS only: the steady per-message cost, without
   * the calls the scheduler preempted (wall time, no CPU) and the first touches of the probe's
   * lazily mapped pages (one page fault each, once per run).
   */
  handlerNsSteadyMean: number | null;
  /**
   * Values recorded as 0 because their end came before their start (endToEnd: blaster and
   * netconsd on different machines; queue: the wall clock stepped), and values clamped at the
   * largest trackable one.
   */
  clockAnomalies: {
    endToEndNegative: number;
    queueNegative: number;
    clamped: number;
  };
}

/** A self-timed handler call at least this long (ns) was preempted or page-faulted. */
export const STEADY_CALL_NS = 10_000;

/** The highest value of bucket `index` in the probe's (and HdrHistogram's) layout. */
export function bucketHighest(index: number, halfMagnitude = PROBE_HALF_COUNT_MAGNITUDE): number {
  const half = 2 ** halfMagnitude;
  if (index < 2 * half) return index;
  const shift = Math.floor(index / half) - 1;
  return ((index % half) + half + 1) * 2 ** shift - 1;
}

/** Adds a probe histogram's [index, count] pairs into `into`. */
export function addBuckets(into: Histogram, buckets: readonly number[]): void {
  for (let i = 0; i + 1 < buckets.length; i += 2) {
    into.recordValueWithCount(bucketHighest(buckets[i]), buckets[i + 1]);
  }
}

/** The figures of a probe file's text, or why it cannot be read. */
export function parseProbeFile(text: string): ProbeResult | { error: string } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return { error: `not JSON (${(error as Error).message})` };
  }
  const parsed = probeFileSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      error: `not a netcons-probe/1 file: ${issue.path.join(".") || "(top)"}: ${issue.message}`,
    };
  }
  return probeResult(parsed.data);
}

export function probeResult(file: ProbeFile): ProbeResult {
  const endToEnd = newHistogram();
  const queue = newHistogram();
  const delivered = { extended: 0, legacy: 0, oos: 0, seqReset: 0, hosts: 0 };
  const anomalies = { endToEndNegative: 0, queueNegative: 0, clamped: 0 };
  let stamped = 0;
  let hostsExact = true;
  let handlerNs = 0;
  const handler = file.selfTimed ? newHistogram() : null;
  const steady = { ns: 0, calls: 0 };
  try {
    for (const w of file.workers) {
      addBuckets(endToEnd, w.endToEndUs.buckets);
      addBuckets(queue, w.queueUs.buckets);
      delivered.extended += w.extended;
      delivered.legacy += w.legacy;
      delivered.oos += w.oos;
      delivered.seqReset += w.seqReset;
      delivered.hosts += w.hosts;
      stamped += w.stamped;
      handlerNs += w.handlerNsTotal;
      if (handler && w.handlerNs) {
        addBuckets(handler, w.handlerNs.buckets);
        const b = w.handlerNs.buckets;
        for (let i = 0; i + 1 < b.length; i += 2) {
          const ns = bucketHighest(b[i]);
          if (ns >= STEADY_CALL_NS) continue;
          steady.ns += ns * b[i + 1];
          steady.calls += b[i + 1];
        }
      }
      hostsExact &&= w.hostsExact;
      anomalies.endToEndNegative += w.endToEndUs.negative;
      anomalies.queueNegative += w.queueUs.negative;
      anomalies.clamped += w.endToEndUs.clamped + w.queueUs.clamped;
    }
    return {
      latencyUs: { endToEnd: summarize(endToEnd), queue: summarize(queue) },
      histograms: { endToEnd: encodeHistogram(endToEnd), queue: encodeHistogram(queue) },
      delivered,
      perWorker: file.workers.map((w) => ({
        index: w.index,
        delivered: w.extended + w.legacy,
        hosts: w.hosts,
      })),
      final: file.final,
      stamped,
      hostsExact,
      handlerNsPerMessage:
        file.selfTimed && delivered.extended + delivered.legacy > 0
          ? handlerNs / (delivered.extended + delivered.legacy)
          : null,
      handlerNs: handler ? summarize(handler) : null,
      handlerNsSteadyMean: handler && steady.calls > 0 ? steady.ns / steady.calls : null,
      clockAnomalies: anomalies,
    };
  } finally {
    endToEnd.destroy();
    queue.destroy();
    handler?.destroy();
  }
}
