/**
 * The bench regression verdict: a benchmark run against a saved baseline, a verdict per figure
 * (regression, slower, same, faster) and whether the run fails. Pure (no clocks, no I/O),
 * tested on synthetic results.
 *
 * For each measurement present in both runs, `speed` is how many times better the new figure
 * is (new/old when bigger is better, old/new when smaller is better), and `margin` is the noise
 * allowance: the two relative margins of error (tinybench's 95% `rme`) combined in quadrature,
 * which is the relative margin of a quotient of two independent means. The true speed then
 * lies between speed / (1 + margin) and speed * (1 + margin) (multiplicative, so a noisy
 * figure with a 60% margin can still be found 100 times slower). Then:
 *  - regression: speed * (1 + margin) < 1 - tolerance  (slower by more than the tolerance even
 *    at the optimistic end of the noise; fails the run when the figure is gated)
 *  - slower:     speed * (1 + margin) < 1              (really slower, but within the tolerance)
 *  - faster:     speed / (1 + margin) > 1
 *  - same:       otherwise (the difference is within the noise)
 * A count whose baseline is 0 (lost messages) has no ratio: any increase is a regression.
 */
import type { Kind, Measurement } from "./format.ts";

/**
 * Which figures decide the exit code:
 * - absolute: the absolute figures (ops/s, msgs/s, µs): on one quiet machine;
 * - ratio: the ratios to the reference workload: across machines;
 * - both: a figure fails only when its absolute figure AND its ratio both regressed. A change
 *   that made the code slower shows in both; a machine that got busier or slower shows in the
 *   absolute figure only (the reference slowed down as much), so it does not fail. A figure
 *   without a ratio is judged on its own.
 * Lost messages (`always`) fail under every gate; the reference workload never does.
 */
export type Gate = "absolute" | "ratio" | "both";

export type Verdict = "regression" | "slower" | "same" | "faster" | "new" | "missing";

export interface Comparison {
  name: string;
  unit: string;
  kind: Kind;
  old?: number;
  new?: number;
  /** new / old (undefined when old is 0 or absent). */
  ratio?: number;
  /** How many times better the new figure is (direction-aware); undefined without both figures. */
  speed?: number;
  /** Noise allowance as a fraction (0.03 = 3%). */
  margin: number;
  verdict: Verdict;
  /** Whether this figure takes part in the verdict under the chosen gate. */
  gated: boolean;
  /** Whether this figure fails the run. */
  failed: boolean;
}

export interface CompareOptions {
  /** Allowed slowdown as a fraction (0.1 = 10%). */
  tolerance: number;
  gate: Gate;
}

export interface CompareResult {
  comparisons: Comparison[];
  /** Gated regressions (the run fails when > 0). */
  regressions: number;
  pass: boolean;
}

/**
 * Absolute figures under the absolute gate, ratios under the ratio gate, both kinds under the
 * both gate; a correctness figure (`always`, e.g. lost messages) under every gate; the
 * reference workload never.
 */
export function isGated(m: Pick<Measurement, "kind" | "always">, gate: Gate): boolean {
  if (m.kind === "reference") return false;
  if (m.always) return true;
  return gate === "both" || gate === m.kind;
}

/** The verdict for one figure present in both runs. */
export function judge(
  old: Measurement,
  current: Measurement,
  tolerance: number,
): Pick<Comparison, "ratio" | "speed" | "margin" | "verdict"> {
  const margin = Math.hypot(old.rmePercent, current.rmePercent) / 100;
  const ratio = old.value > 0 ? current.value / old.value : undefined;
  let speed: number | undefined;
  if (current.direction === "bigger") {
    speed = ratio;
  } else if (current.value > 0) {
    speed = old.value / current.value;
  } else {
    // the new figure is 0 where smaller is better (e.g. no lost messages): as good as it gets.
    speed = old.value > 0 ? Number.POSITIVE_INFINITY : 1;
  }
  if (speed === undefined) {
    // bigger-is-better with a baseline of 0: nothing to divide by; any figure is no worse.
    return { ratio, speed, margin, verdict: current.value > 0 ? "faster" : "same" };
  }
  let verdict: Verdict;
  const optimistic = speed * (1 + margin);
  if (optimistic < 1 - tolerance) verdict = "regression";
  else if (optimistic < 1) verdict = "slower";
  else if (speed / (1 + margin) > 1) verdict = "faster";
  else verdict = "same";
  return { ratio, speed, margin, verdict };
}

export function compareResults(
  baseline: readonly Measurement[],
  current: readonly Measurement[],
  options: CompareOptions,
): CompareResult {
  const oldByName = new Map(baseline.map((m) => [m.name, m]));
  const currentNames = new Set(current.map((m) => m.name));
  const comparisons: Comparison[] = [];
  for (const m of current) {
    const gated = isGated(m, options.gate);
    const old = oldByName.get(m.name);
    if (!old) {
      comparisons.push({
        name: m.name,
        unit: m.unit,
        kind: m.kind,
        new: m.value,
        margin: m.rmePercent / 100,
        verdict: "new",
        gated,
        failed: false,
      });
      continue;
    }
    const judged = judge(old, m, options.tolerance);
    comparisons.push({
      name: m.name,
      unit: m.unit,
      kind: m.kind,
      old: old.value,
      new: m.value,
      ...judged,
      gated,
      failed: gated && judged.verdict === "regression",
    });
  }
  if (options.gate === "both") {
    // A figure and its ratio fail together or not at all (counted once, on the absolute row).
    const byName = new Map(comparisons.map((c) => [c.name, c]));
    for (const m of current) {
      if (m.kind !== "ratio" || m.of === undefined || m.always) continue;
      const ratio = byName.get(m.name);
      const absolute = byName.get(m.of);
      if (!ratio || !absolute || absolute.old === undefined) continue;
      absolute.failed = absolute.verdict === "regression" && ratio.verdict === "regression";
      ratio.failed = false;
    }
  }
  // A benchmark that disappeared is reported (a suite filtered out or removed) but does not fail
  // the run: --filter legitimately runs a subset of a full baseline.
  for (const old of baseline) {
    if (currentNames.has(old.name)) continue;
    comparisons.push({
      name: old.name,
      unit: old.unit,
      kind: old.kind,
      old: old.value,
      margin: old.rmePercent / 100,
      verdict: "missing",
      gated: false,
      failed: false,
    });
  }
  const regressions = comparisons.filter((c) => c.failed).length;
  return { comparisons, regressions, pass: regressions === 0 };
}
