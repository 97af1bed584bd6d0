/**
 * The end-to-end loopback benchmark: runBlast (blaster/blast.ts) into startReceiver
 * (receiver/receive.ts) on 127.0.0.1, repeated a few times, at a fixed offered rate below what
 * this kind of machine sustains, so that the run is expected to lose nothing and a loss is a
 * finding rather than noise.
 *
 * Per run it measures the delivered message rate (messages delivered over the run from the
 * first datagram sent to the last one read by the receiver), messages lost, the end-to-end p99
 * latency and the receiver workers' busy time per message (the CPU cost, which shows a slower
 * receiver even while it keeps up). A rate that could not be timed is reported as not
 * measured, never as a number. Over the runs each figure
 * becomes the median of the runs that measured it, with the 95% relative margin of error of
 * their mean (Student's t) as its noise allowance in the baseline comparison.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { runBlast } from "../../blaster/blast.ts";
import { startReceiver } from "../../receiver/receive.ts";
import { percent, rate as perSecond } from "../format.ts";
import type { Measurement } from "./format.ts";
import { REFERENCE_NAME } from "./reference.ts";
import { medianWithMargin, relativeSpread } from "./stats.ts";
import { measureReference } from "./suite.ts";

export interface EndToEndOptions {
  /** Repeated runs (the margin of error needs at least 2). */
  runs: number;
  /** Messages per run. */
  messages: number;
  /** Offered rate, messages (= datagrams: 64-byte records never fragment) per second. */
  ratePps: number;
  hosts: number;
  seed: number;
  /** Requested SO_RCVBUF: absorbs the blaster's catch-up bursts on a busy machine. */
  rcvbufBytes: number;
  signal?: AbortSignal;
  onRun?: (run: EndToEndRun, index: number) => void;
  /**
   * Measures the reference workload's ops/s right before each run, so the cost ratio of each run
   * is taken under the same conditions as the run (as the micro-benchmarks' rounds do).
   */
  referenceBeforeRun?: () => Promise<number | undefined>;
}

export const E2E_DEFAULTS = {
  runs: 5,
  messages: 20_000,
  ratePps: 20_000,
  hosts: 64,
  seed: 42,
  rcvbufBytes: 4 * 1024 * 1024,
} as const;

export interface EndToEndRun {
  sent: number;
  expected: number;
  received: number;
  lost: number;
  kernelDrops: number;
  queueDrops: number;
  /**
   * Messages delivered per second of the run, from the first datagram sent to the last one read
   * (see deliveredRate). Null when that could not be timed (see `rateNotMeasured`).
   */
  deliveredPerSecond: number | null;
  /** Why the delivered rate is null; null when it was measured. */
  rateNotMeasured: string | null;
  /** How long the listeners went on reading after the blaster was done, ms. */
  readingAfterSendMs: number;
  blastMs: number;
  achievedPps: number;
  p99Us: number;
  busyUsPerMessage: number;
  /** The reference workload's ops/s measured right before this run. */
  referenceOpsPerSecond?: number;
}

export interface EndToEndResult {
  options: Omit<EndToEndOptions, "signal" | "onRun" | "referenceBeforeRun">;
  runs: EndToEndRun[];
  /**
   * (max - min) / median of the delivered rate over the runs that measured it (0 = identical);
   * null with fewer than two measured runs.
   */
  spread: number | null;
  zeroLoss: boolean;
  aborted: boolean;
  /** Why a run failed (the runs before it are kept); null when every run completed. */
  error: string | null;
}

/** How long the receiver may go without a new message before the run is considered drained. */
const QUIET_MS = 300;
const DRAIN_CAP_MS = 5000;
const POLL_MS = 2;
/**
 * The delivered rate is timed only when the poll saw the last arrival within this share of the
 * run's span after it happened (the rate is then known to within about this share).
 */
const MAX_END_UNCERTAINTY = 0.1;

/** What one run's delivered rate is computed from (times in ms of one clock, performance.now()). */
export interface DeliverySpan {
  /** From the blaster's first datagram to its last, by the blaster's own clock. */
  sendSpanMs: number;
  /** When runBlast returned (after the last datagram left). */
  sendDoneAt: number;
  /** When the poll first saw the listeners' datagram count at its final value. */
  lastArrivalAt: number;
  /** The poll before that one: the last arrival happened between the two. */
  beforeLastArrivalAt: number;
  /** Messages delivered by the receiver's workers. */
  delivered: number;
}

/**
 * Messages delivered per second of the run, the run being from the first datagram sent (the
 * first arrival, on loopback) to the last datagram read by the listeners: the blaster's send
 * span plus however long the receiver went on reading after the blaster was done. It cannot
 * exceed the rate the blaster achieved; a receiver that falls behind shows as a lower rate
 * (its last arrival comes later). A backlog read in a burst by a listener that was held up
 * does not inflate it, as a rate taken over the listeners' or the workers' own counts did
 * (25-27k msg/s at 20k offered). Not timed when nothing was delivered, when the blaster sent
 * for no measurable time, or when the poll saw the last arrival too long after it happened.
 * Pure.
 */
export function deliveredRate(span: DeliverySpan): {
  perSecond: number | null;
  notMeasured: string | null;
} {
  if (span.delivered === 0) return { perSecond: null, notMeasured: "nothing was delivered" };
  if (!(span.sendSpanMs > 0)) {
    return { perSecond: null, notMeasured: "the blaster sent everything at one instant" };
  }
  const lagMs = Math.max(0, span.lastArrivalAt - span.sendDoneAt);
  const runMs = span.sendSpanMs + lagMs;
  const uncertaintyMs =
    lagMs > 0 ? span.lastArrivalAt - Math.max(span.beforeLastArrivalAt, span.sendDoneAt) : 0;
  if (uncertaintyMs > MAX_END_UNCERTAINTY * runMs) {
    return {
      perSecond: null,
      notMeasured: `the last arrival is known only to within ${uncertaintyMs.toFixed(1)} ms of a ${runMs.toFixed(1)} ms run (the poll was held up)`,
    };
  }
  return { perSecond: (span.delivered * 1000) / runMs, notMeasured: null };
}

async function oneRun(o: EndToEndOptions): Promise<EndToEndRun> {
  const receiver = await startReceiver({
    bind: "127.0.0.1",
    port: 0,
    listeners: 1,
    workers: 1,
    rcvbuf: o.rcvbufBytes,
  });
  try {
    // Watch the receiver from the main thread (the blaster and the receiver work in their own
    // threads): when the listeners' datagram count last moved (it moves with every hand-off to
    // the workers), and the workers' message count, which moves on their 50 ms tick and only
    // tells when the receiver has drained.
    const arrivals = { count: 0, lastAt: 0, beforeLastAt: 0 };
    let processed = 0;
    let processedAt = performance.now();
    let watching = true;
    const watch = (async () => {
      let polledAt = performance.now();
      while (watching) {
        const s = receiver.snapshot();
        const now = performance.now();
        if (s.packets.read !== arrivals.count) {
          arrivals.count = s.packets.read;
          arrivals.lastAt = now;
          arrivals.beforeLastAt = polledAt;
        }
        if (s.messages.extended !== processed) {
          processed = s.messages.extended;
          processedAt = now;
        }
        polledAt = now;
        await sleep(POLL_MS);
      }
    })();
    let blast: Awaited<ReturnType<typeof runBlast>>;
    let sendDoneAt = 0;
    try {
      blast = await runBlast(
        {
          target: `127.0.0.1:${receiver.port}`,
          hosts: o.hosts,
          count: o.messages,
          rate: o.ratePps,
          seed: o.seed,
          format: "extended",
          size: { kind: "fixed", bytes: 64 },
        },
        { signal: o.signal },
      );
      sendDoneAt = performance.now();
      const expected = blast.expected.messagesDelivered;
      const drainUntil = performance.now() + DRAIN_CAP_MS;
      while (
        processed < expected &&
        performance.now() < drainUntil &&
        performance.now() - Math.max(processedAt, arrivals.lastAt) < QUIET_MS
      ) {
        await sleep(POLL_MS);
      }
    } finally {
      watching = false;
      await watch;
    }
    const report = await receiver.stop("bench end-to-end run");
    const received = report.messages.extended;
    const expected = blast.expected.messagesDelivered;
    const busyUs = report.perWorker.reduce((sum, w) => sum + w.busyUs, 0);
    const rate = deliveredRate({
      sendSpanMs: blast.durationMs,
      sendDoneAt,
      lastArrivalAt: arrivals.lastAt,
      beforeLastArrivalAt: arrivals.beforeLastAt,
      delivered: received,
    });
    return {
      sent: blast.packets.sent,
      expected,
      received,
      lost: Math.max(0, expected - received),
      kernelDrops: report.drops.kernel,
      queueDrops: report.drops.queue,
      deliveredPerSecond: rate.perSecond,
      rateNotMeasured: rate.notMeasured,
      readingAfterSendMs: Math.max(0, arrivals.lastAt - sendDoneAt),
      blastMs: blast.durationMs,
      achievedPps: blast.rate.achievedPps,
      p99Us: report.latencyUs.endToEnd.p99,
      busyUsPerMessage: received > 0 ? busyUs / received : 0,
    };
  } finally {
    await receiver.stop("bench end-to-end run");
  }
}

export async function runEndToEnd(options: EndToEndOptions): Promise<EndToEndResult> {
  const runs: EndToEndRun[] = [];
  let error: string | null = null;
  for (let i = 0; i < options.runs && !options.signal?.aborted; i++) {
    try {
      const referenceOpsPerSecond = await options.referenceBeforeRun?.();
      if (options.signal?.aborted) break;
      const run = await oneRun(options);
      if (referenceOpsPerSecond) run.referenceOpsPerSecond = referenceOpsPerSecond;
      runs.push(run);
      options.onRun?.(run, i);
    } catch (e) {
      // keep the runs that completed: they are figures too
      error = `run ${i + 1}: ${(e as Error)?.stack ?? String(e)}`;
      break;
    }
  }
  const rates = measuredRates(runs);
  const { signal: _signal, onRun: _onRun, referenceBeforeRun: _ref, ...kept } = options;
  return {
    options: kept,
    runs,
    spread: relativeSpread(rates),
    zeroLoss: runs.every((r) => r.lost === 0),
    aborted: Boolean(options.signal?.aborted),
    error,
  };
}

/** The delivered rates of the runs that measured one. */
export function measuredRates(runs: readonly EndToEndRun[]): number[] {
  return runs.flatMap((r) => (r.deliveredPerSecond === null ? [] : [r.deliveredPerSecond]));
}

/**
 * The end-to-end figures as measurements. Ratios to the reference only where they mean
 * something: the CPU cost per message scales with the machine, the delivered rate does not
 * (it is the offered rate whenever the receiver keeps up), so it has no ratio.
 */
export function endToEndMeasurements(result: EndToEndResult): Measurement[] {
  const runs = result.runs;
  if (runs.length === 0) return [];
  const suite = "e2e";
  const runsText = `${runs.length} runs at ${perSecond(result.options.ratePps)} offered`;
  // medians: one run disturbed by other work on the machine should not move the figure
  const lost = runs.reduce((a, r) => a + r.lost, 0);
  const base = { suite, samples: runs.length };
  const out: Measurement[] = [];
  // Each figure over the runs that measured it (a run that delivered nothing has no latency
  // or cost per message; one whose arrivals could not be timed has no rate).
  const rates = measuredRates(runs);
  if (rates.length > 0) {
    const rate = medianWithMargin(rates);
    const spread = result.spread === null ? "" : `; spread ${percent(result.spread)}`;
    const left = runs.length - rates.length;
    out.push({
      ...base,
      samples: rates.length,
      name: "e2e/delivered messages/s",
      unit: "msgs/s",
      value: rate.mean,
      rmePercent: rate.rmePercent,
      direction: "bigger",
      kind: "absolute",
      extra: `median of ${rates.length} timed runs at ${perSecond(result.options.ratePps)} offered${left > 0 ? ` (${left} not timed)` : ""}${spread}`,
    });
  }
  out.push({
    ...base,
    name: "e2e/lost messages",
    unit: "messages",
    value: lost,
    rmePercent: 0,
    direction: "smaller",
    kind: "absolute",
    always: true,
    extra: `sum over ${runsText}; ${result.zeroLoss ? "zero loss" : "LOSS"}`,
  });
  const delivering = runs.filter((r) => r.received > 0);
  if (delivering.length > 0) {
    const p99 = medianWithMargin(delivering.map((r) => r.p99Us));
    const busy = medianWithMargin(delivering.map((r) => r.busyUsPerMessage));
    const deliveringLabel = `median of ${delivering.length} runs that delivered, at ${perSecond(result.options.ratePps)} offered`;
    out.push(
      {
        ...base,
        samples: delivering.length,
        name: "e2e/end-to-end p99 latency",
        unit: "µs",
        value: p99.mean,
        rmePercent: p99.rmePercent,
        direction: "smaller",
        kind: "absolute",
        extra: `${deliveringLabel}; from the intended send time (stamp)`,
      },
      {
        ...base,
        samples: delivering.length,
        name: "e2e/receiver busy time per message",
        unit: "µs",
        value: busy.mean,
        rmePercent: busy.rmePercent,
        direction: "smaller",
        kind: "absolute",
        extra: `${deliveringLabel}; worker busy µs / messages`,
      },
    );
  }
  const withRef = delivering.filter((r) => (r.referenceOpsPerSecond ?? 0) > 0);
  if (withRef.length > 0) {
    // µs per message x reference ops per µs = the message's cost in reference operations,
    // run by run
    const cost = medianWithMargin(
      withRef.map((r) => (r.busyUsPerMessage * (r.referenceOpsPerSecond ?? 0)) / 1e6),
    );
    const reference = medianWithMargin(withRef.map((r) => r.referenceOpsPerSecond ?? 0));
    const label = `median of ${withRef.length} runs at ${perSecond(result.options.ratePps)} offered`;
    out.push({
      ...base,
      samples: withRef.length,
      name: "e2e/receiver busy time per message vs reference",
      unit: "reference ops",
      value: cost.mean,
      rmePercent: cost.rmePercent,
      direction: "smaller",
      kind: "ratio",
      of: "e2e/receiver busy time per message",
      extra: `${label}; busy µs per message x reference ops/µs, run by run`,
    });
    out.unshift({
      ...base,
      samples: withRef.length,
      name: "e2e/reference",
      unit: "ops/s",
      value: reference.mean,
      rmePercent: reference.rmePercent,
      direction: "bigger",
      kind: "reference",
      extra: `${REFERENCE_NAME}; measured before each run`,
    });
  }
  return out;
}

/**
 * The end-to-end runs, each preceded by a measurement of the reference workload; returns both
 * the detail and the measurements.
 */
export async function benchEndToEnd(
  options: EndToEndOptions,
  referenceTiming: { timeMs: number; warmupMs: number },
): Promise<{ result: EndToEndResult; measurements: Measurement[] }> {
  const result = await runEndToEnd({
    ...options,
    referenceBeforeRun: async () =>
      (
        await measureReference({
          timeMs: Math.max(50, referenceTiming.timeMs / 5),
          warmupMs: referenceTiming.warmupMs,
          signal: options.signal,
        })
      )?.opsPerSecond,
  });
  return { result, measurements: endToEndMeasurements(result) };
}
