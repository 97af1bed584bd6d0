/**
 * The A/B verdict of the ci-regression plan: the same load against a baseline (A) and a
 * candidate (B), run alternately A B A B so that drift of the machine (other load, thermal,
 * page cache) falls on both sides alike. Each metric gets a verdict that takes the measured
 * spread into account, so noise is not called a regression.
 *
 * Pure: figures in, verdict out.
 */
import { median, relativeSpread } from "./bench/stats.ts";
import { figure, percent } from "./format.ts";

export type Side = "A" | "B";

export interface RunMetrics {
  /** Messages per second the target took in (the zero-loss rate when each run is a search). */
  throughputPps: number;
  /** Fraction of sent datagrams that the target lost (0..1). */
  lossRatio: number;
  /** End-to-end p99 latency, when the target reports it (our receiver); else undefined. */
  p99Us?: number;
}

export interface MetricVerdict {
  metric: "throughputPps" | "lossRatio" | "p99Us";
  better: "higher" | "lower";
  a: number[];
  b: number[];
  medianA: number | null;
  medianB: number | null;
  /** medianB / medianA (null when undefined, e.g. no latency from an external target). */
  ratio: number | null;
  /** The relative change that counts as real: max(tolerance, spread of either side). */
  noise: number | null;
  verdict: "regression" | "improvement" | "same" | "n/a";
  reason: string;
}

export interface CompareSettings {
  /** Relative change below which throughput and latency count as the same (0.1 = 10%). */
  tolerance: number;
  /** Absolute loss-ratio difference allowed (0 = any consistent extra loss is a regression). */
  lossTolerance: number;
}

export interface CompareVerdict {
  metrics: MetricVerdict[];
  regressions: number;
  improvements: number;
  /** Ratios of medians for thresholds: candidate / baseline. */
  throughputRatio: number | null;
  p99Ratio: number | null;
  lossDelta: number | null;
  summary: string;
}

/** The median, or null for no runs (a side that measured nothing). */
function medianOrNull(values: readonly number[]): number | null {
  return values.length === 0 ? null : median(values);
}

function relativeVerdict(
  metric: "throughputPps" | "p99Us",
  better: "higher" | "lower",
  a: number[],
  b: number[],
  tolerance: number,
): MetricVerdict {
  const medianA = medianOrNull(a);
  const medianB = medianOrNull(b);
  if (medianA === null || medianB === null || medianA === 0) {
    return {
      metric,
      better,
      a,
      b,
      medianA,
      medianB,
      ratio: null,
      noise: null,
      verdict: "n/a",
      reason: a.length === 0 || b.length === 0 ? "not measured for this target" : "baseline is 0",
    };
  }
  const ratio = medianB / medianA;
  const noise = Math.max(tolerance, relativeSpread(a) ?? 0, relativeSpread(b) ?? 0);
  const change = ratio - 1;
  const worse = better === "higher" ? change < -noise : change > noise;
  const improved = better === "higher" ? change > noise : change < -noise;
  const verdict = worse ? "regression" : improved ? "improvement" : "same";
  const reason = `candidate/baseline ${figure(ratio)} (${change >= 0 ? "+" : ""}${percent(change)}), noise band ±${percent(noise)}`;
  return { metric, better, a, b, medianA, medianB, ratio, noise, verdict, reason };
}

/**
 * With n runs a side, two sides of identical programs come out fully separated (every run of one
 * above every run of the other) by chance with probability 2 / C(2n, n): 1 in 3 for n = 2, 1 in 10
 * for n = 3, 1 in 35 for n = 4. Four runs a side is the least that keeps noise from being called a
 * regression in a CI gate, except in the clear case below.
 */
export const MIN_RUNS_FOR_LOSS_VERDICT = 4;

function lossVerdict(a: number[], b: number[], lossTolerance: number): MetricVerdict {
  const medianA = medianOrNull(a);
  const medianB = medianOrNull(b);
  const base = { metric: "lossRatio" as const, better: "lower" as const, a, b, medianA, medianB };
  if (medianA === null || medianB === null) {
    return { ...base, ratio: null, noise: null, verdict: "n/a", reason: "no runs" };
  }
  const ratio = medianA === 0 ? (medianB === 0 ? 1 : null) : medianB / medianA;
  // Loss is usually 0 or close to it, where ratios mean little: call it a regression only when
  // every candidate run lost more than every baseline run, by more than the tolerance, and either
  // there are enough runs for that separation not to be chance, or one side lost nothing in any
  // run while the other lost in every run (a lossy build at a rate the baseline holds). Loss at an
  // overload rate, where both sides lose varying shares, needs the runs.
  const delta = medianB - medianA;
  const enoughRuns = Math.min(a.length, b.length) >= MIN_RUNS_FOR_LOSS_VERDICT;
  const clean = (xs: number[]) => xs.every((x) => x === 0);
  const separated = Math.min(...b) > Math.max(...a) && (enoughRuns || clean(a));
  const separatedBetter = Math.max(...b) < Math.min(...a) && (enoughRuns || clean(b));
  const verdict =
    separated && delta > lossTolerance
      ? "regression"
      : separatedBetter && -delta > lossTolerance
        ? "improvement"
        : "same";
  const caveat =
    !enoughRuns && !clean(a) && !clean(b)
      ? `; both sides lost, and with fewer than ${MIN_RUNS_FOR_LOSS_VERDICT} runs a side that is noise (raise rounds to judge it)`
      : "";
  const reason = `loss baseline ${percent(medianA)}, candidate ${percent(medianB)}${separated ? " (every candidate run lost more)" : ""}${caveat}`;
  return { ...base, ratio, noise: lossTolerance, verdict, reason };
}

export function compareRuns(
  runs: readonly { side: Side; metrics: RunMetrics }[],
  settings: CompareSettings,
): CompareVerdict {
  const pick = (side: Side, f: (m: RunMetrics) => number | undefined): number[] =>
    runs
      .filter((r) => r.side === side)
      .map((r) => f(r.metrics))
      .filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  const metrics = [
    relativeVerdict(
      "throughputPps",
      "higher",
      pick("A", (m) => m.throughputPps),
      pick("B", (m) => m.throughputPps),
      settings.tolerance,
    ),
    lossVerdict(
      pick("A", (m) => m.lossRatio),
      pick("B", (m) => m.lossRatio),
      settings.lossTolerance,
    ),
    relativeVerdict(
      "p99Us",
      "lower",
      pick("A", (m) => m.p99Us),
      pick("B", (m) => m.p99Us),
      settings.tolerance,
    ),
  ];
  const regressions = metrics.filter((m) => m.verdict === "regression").length;
  const improvements = metrics.filter((m) => m.verdict === "improvement").length;
  const loss = metrics[1];
  const summary =
    regressions > 0
      ? `REGRESSION in ${metrics
          .filter((m) => m.verdict === "regression")
          .map((m) => `${m.metric} (${m.reason})`)
          .join("; ")}`
      : `no regression (${metrics.map((m) => `${m.metric}: ${m.verdict}`).join(", ")})${
          // Say when the band is so wide that only a large change could show.
          (metrics[0].noise ?? 0) > 0.25
            ? `; but throughput varied by ±${percent(metrics[0].noise!)} between runs of one side, so smaller changes cannot be seen: add rounds or use a quieter machine`
            : ""
        }`;
  return {
    metrics,
    regressions,
    improvements,
    throughputRatio: metrics[0].ratio,
    p99Ratio: metrics[2].ratio,
    lossDelta: loss.medianA === null || loss.medianB === null ? null : loss.medianB - loss.medianA,
    summary,
  };
}
