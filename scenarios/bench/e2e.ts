/**
 * The end-to-end loopback benchmark: runBlast (blaster/blast.ts) into startReceiver
 * (receiver/receive.ts) on 127.0.0.1, repeated a few times, at a fixed offered rate below what
 * this kind of machine sustains, so that the run is expected to lose nothing and a loss is a
 * finding rather than noise.
 *
 * Per run it measures the delivered message rate (on the receiver's side, over the middle 90%
 * of the messages), messages lost, the end-to-end p99 latency and the receiver workers' busy
 * time per message (the CPU cost, which shows a slower receiver even while it keeps up). Over the
 * runs each figure becomes the median, with the 95% relative margin of error of the runs' mean
 * (Student's t) as its noise allowance in the baseline comparison.
 */
import { runBlast } from "../../blaster/blast.ts";
import { startReceiver } from "../../receiver/receive.ts";
import type { Measurement } from "./format.ts";
import { REFERENCE_NAME } from "./reference.ts";
import { medianWithMargin } from "./stats.ts";
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
  /** Messages over the receiver's window from 5% to 95% of them (whole run if some were lost). */
  deliveredPerSecond: number;
  windowMs: number;
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
  /** max/min of deliveredPerSecond over the runs (1 = identical). */
  spread: number;
  zeroLoss: boolean;
  aborted: boolean;
  /** Why a run failed (the runs before it are kept); null when every run completed. */
  error: string | null;
}

/** How long the receiver may go without a new message before the run is considered drained. */
const QUIET_MS = 300;
/** Share of the messages left out at each edge of the rate's window. */
const EDGE_SHARE = 0.05;
const DRAIN_CAP_MS = 5000;
const POLL_MS = 2;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function oneRun(o: EndToEndOptions): Promise<EndToEndRun> {
  const receiver = await startReceiver({
    bind: "127.0.0.1",
    port: 0,
    listeners: 1,
    workers: 1,
    rcvbuf: o.rcvbufBytes,
  });
  try {
    // Watch the receiver's count from the main thread (the blaster and the receiver work in
    // their own threads). The rate is taken over the middle of the run, from the poll that saw
    // 5% of the messages to the one that saw 95%: the edges (a late start caught up in a burst,
    // stragglers at the end) are scheduling jitter of a busy machine, not throughput.
    const lo = Math.ceil(o.messages * EDGE_SHARE);
    const hi = Math.floor(o.messages * (1 - EDGE_SHARE));
    const marks = { loAt: 0, loCount: 0, hiAt: 0, hiCount: 0, firstAt: 0, firstCount: 0 };
    let lastAt = 0;
    let lastCount = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const n = receiver.snapshot().messages.extended;
        const now = performance.now();
        if (n > 0 && marks.firstAt === 0) {
          marks.firstAt = now;
          marks.firstCount = n;
        }
        if (n >= lo && marks.loAt === 0) {
          marks.loAt = now;
          marks.loCount = n;
        }
        if (n >= hi && marks.hiAt === 0) {
          marks.hiAt = now;
          marks.hiCount = n;
        }
        if (n !== lastCount) {
          lastCount = n;
          lastAt = now;
        }
        await sleep(POLL_MS);
      }
    })();
    let blast: Awaited<ReturnType<typeof runBlast>>;
    try {
      blast = await runBlast(
        {
          target: `127.0.0.1:${receiver.port}`,
          hosts: o.hosts,
          count: o.messages,
          ratePps: o.ratePps,
          seed: o.seed,
          format: "extended",
          size: { kind: "fixed", bytes: 64 },
        },
        { signal: o.signal },
      );
      const expected = blast.expected.messagesDelivered;
      const drainUntil = performance.now() + DRAIN_CAP_MS;
      while (
        lastCount < expected &&
        performance.now() < drainUntil &&
        performance.now() - lastAt < QUIET_MS
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
    // Without the 95% mark (messages lost) the window is the whole run.
    const middle = marks.hiAt > marks.loAt && marks.hiCount > marks.loCount;
    const windowMs = middle ? marks.hiAt - marks.loAt : lastAt - marks.firstAt;
    const windowMessages = middle ? marks.hiCount - marks.loCount : lastCount - marks.firstCount;
    return {
      sent: blast.packets.sent,
      expected,
      received,
      lost: Math.max(0, expected - received),
      kernelDrops: report.drops.kernel,
      queueDrops: report.drops.queue,
      deliveredPerSecond: windowMs > 0 ? (windowMessages * 1000) / windowMs : 0,
      windowMs,
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
  const rates = runs.map((r) => r.deliveredPerSecond);
  const { signal: _signal, onRun: _onRun, referenceBeforeRun: _ref, ...kept } = options;
  return {
    options: kept,
    runs,
    spread: rates.length > 0 ? Math.max(...rates) / Math.max(1e-9, Math.min(...rates)) : 0,
    zeroLoss: runs.every((r) => r.lost === 0),
    aborted: Boolean(options.signal?.aborted),
    error,
  };
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
  const runsText = `${runs.length} runs at ${result.options.ratePps} msg/s offered`;
  const label = `median of ${runsText}`;
  // medians: one run disturbed by other work on the machine should not move the figure
  const rate = medianWithMargin(runs.map((r) => r.deliveredPerSecond));
  const p99 = medianWithMargin(runs.map((r) => r.p99Us));
  const busy = medianWithMargin(runs.map((r) => r.busyUsPerMessage));
  const lost = runs.reduce((a, r) => a + r.lost, 0);
  const base = { suite, samples: runs.length };
  const out: Measurement[] = [
    {
      ...base,
      name: "e2e/delivered messages/s",
      unit: "msgs/s",
      value: rate.mean,
      rmePercent: rate.rmePercent,
      direction: "bigger",
      kind: "absolute",
      extra: `${label}; spread max/min ${result.spread.toFixed(3)}`,
    },
    {
      ...base,
      name: "e2e/lost messages",
      unit: "messages",
      value: lost,
      rmePercent: 0,
      direction: "smaller",
      kind: "absolute",
      always: true,
      extra: `sum over ${runsText}; ${result.zeroLoss ? "zero loss" : "LOSS"}`,
    },
    {
      ...base,
      name: "e2e/end-to-end p99 latency",
      unit: "µs",
      value: p99.mean,
      rmePercent: p99.rmePercent,
      direction: "smaller",
      kind: "absolute",
      extra: `${label}; from the intended send time (stamp)`,
    },
    {
      ...base,
      name: "e2e/receiver busy time per message",
      unit: "µs",
      value: busy.mean,
      rmePercent: busy.rmePercent,
      direction: "smaller",
      kind: "absolute",
      extra: `${label}; worker busy µs / messages`,
    },
  ];
  const withRef = runs.filter((r) => (r.referenceOpsPerSecond ?? 0) > 0);
  if (withRef.length > 0) {
    // µs per message x reference ops per µs = the message's cost in reference operations,
    // run by run
    const cost = medianWithMargin(
      withRef.map((r) => (r.busyUsPerMessage * (r.referenceOpsPerSecond ?? 0)) / 1e6),
    );
    const reference = medianWithMargin(withRef.map((r) => r.referenceOpsPerSecond ?? 0));
    out.push({
      ...base,
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
