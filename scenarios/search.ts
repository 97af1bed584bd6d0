/**
 * Throughput search after the IETF BMWG's Multiple Loss Ratio Search (draft-ietf-bmwg-mlrsearch-12):
 * pure logic that is fed trial results and asked for the next load; no clocks, sockets or processes.
 *
 * Why: RFC 2544's binary search trusts one trial per load. On a software receiver sharing a
 * machine, the same load passes and fails by chance, so a single-trial search lands anywhere under
 * the knee. Here each search goal states how much evidence a load needs:
 * - `lossRatio`: a trial is "bad" for the goal when its loss ratio is above this (0, or 0.005);
 * - `finalTrialDurationMs`: trials at least this long count fully ("full-length");
 * - `durationSumMs`: the trial time a load needs before it can be judged (several short trials
 *   at one load instead of one long one);
 * - `exceedRatio`: the share of that time allowed to be bad (0.5 gives a median-like answer,
 *   0 is RFC 2544's "any loss fails");
 * - `width`: the precision, (upper - lower) / upper, at which the goal is done.
 *
 * Every trial counts for every goal (a trial at a load is evidence for each goal's classification
 * of that load). Per goal the search reports the relevant upper bound (the smallest load judged
 * too much), the relevant lower bound (the largest load judged to hold below it) and the
 * conditional throughput (the forwarding rate at the lower bound, at the exceed ratio's quantile
 * of its trials' loss). A search stopped by its trial or time budget before a goal was done
 * reports that goal as inconclusive, with whatever bracket it had.
 *
 * RFC 2544's single-trial search is one configuration: one goal with lossRatio 0, exceedRatio 0
 * and durationSumMs equal to finalTrialDurationMs (one trial decides a load).
 */

export interface SearchGoal {
  /** How thresholds and reports name the goal (`search.ndr.lowerBoundPps`). */
  name: string;
  lossRatio: number;
  finalTrialDurationMs: number;
  durationSumMs: number;
  exceedRatio: number;
  width: number;
}

export interface SearchSettings {
  /** The lowest load worth trying (msg/s): an upper bound here ends a goal with no throughput. */
  minLoadPps: number;
  /** The highest load tried (msg/s), tried first. */
  maxLoadPps: number;
  goals: readonly SearchGoal[];
  /** Budget: at most this many trials... */
  maxTrials: number;
  /** ...and at most this much time, summed over the trials' own elapsed times (ms). */
  timeLimitMs: number;
}

/** One trial as the search sees it. */
export interface SearchTrial {
  /** The load asked for (msg/s): trials are grouped by it, so it must repeat exactly. */
  loadPps: number;
  /** The duration asked for (ms). */
  durationMs: number;
  /** What was lost (0..1), the shortfall of an offered load that did not get out included. */
  lossRatio: number;
  /** The time the trial took, start-up and drain included (ms); what the time limit sums. */
  elapsedMs: number;
}

export type LoadClass = "lower" | "upper" | "undecided";

export type GoalStatus =
  /** Lower and upper bound closer than the goal's width. */
  | "found"
  /** The highest load held: the throughput is at least maxLoadPps. */
  | "max-load"
  /** Even the lowest load was too much. */
  | "below-min-load"
  /** The bracket cannot shrink in whole msg/s. */
  | "resolution"
  /** The search stopped (trials, time, interruption) before the goal was done. */
  | "inconclusive";

export interface GoalResult {
  goal: SearchGoal;
  status: GoalStatus;
  /** Whether the bounds are an answer (every status but "inconclusive"). */
  conclusive: boolean;
  /** Relevant lower bound (msg/s), or null when no load below the upper bound held. */
  lowerBoundPps: number | null;
  /** Relevant upper bound (msg/s), or null when no load was judged too much. */
  upperBoundPps: number | null;
  /** Forwarding rate at the lower bound (msg/s), at the exceed ratio's quantile of loss. */
  conditionalThroughputPps: number | null;
  /** (upper - lower) / upper, or null without both bounds. */
  relativeWidth: number | null;
  /** Trials behind the lower and the upper bound. */
  trialsAtLowerBound: number;
  trialsAtUpperBound: number;
}

export type StopReason = "complete" | "max-trials" | "time-limit" | "aborted";

/** What to try next: a load and a duration, for the goal named. */
export interface NextTrial {
  loadPps: number;
  durationMs: number;
  goal: string;
}

/** The judgement of one load for one goal, from every trial at that load (draft section 5). */
export function classifyLoad(trials: readonly SearchTrial[], goal: SearchGoal): LoadClass {
  let fullGood = 0;
  let fullBad = 0;
  let shortGood = 0;
  let shortBad = 0;
  for (const t of trials) {
    const bad = t.lossRatio > goal.lossRatio;
    if (t.durationMs >= goal.finalTrialDurationMs) {
      if (bad) fullBad += t.durationMs;
      else fullGood += t.durationMs;
    } else if (bad) shortBad += t.durationMs;
    else shortGood += t.durationMs;
  }
  // Short trials only count against a load, and only beyond what their good share balances.
  const balancing =
    goal.exceedRatio >= 1 ? Infinity : (shortGood * goal.exceedRatio) / (1 - goal.exceedRatio);
  const effectiveBad = fullBad + Math.max(0, shortBad - balancing);
  const effectiveWhole = Math.max(goal.durationSumMs, effectiveBad + fullGood);
  const quantile = effectiveWhole * goal.exceedRatio;
  // Optimistic: every trial still to come is good; pessimistic: every one is bad.
  if (effectiveBad > quantile) return "upper";
  if (effectiveWhole - fullGood <= quantile) return "lower";
  return "undecided";
}

/**
 * The forwarding rate at a load for a goal: the load times (1 - the loss ratio at the exceed
 * ratio's quantile of the full-length trials, counted from the best), as the draft defines it.
 */
export function conditionalThroughput(
  loadPps: number,
  trials: readonly SearchTrial[],
  goal: SearchGoal,
): number {
  const full = trials
    .filter((t) => t.durationMs >= goal.finalTrialDurationMs)
    .sort((a, b) => a.lossRatio - b.lossRatio);
  const whole = Math.max(
    goal.durationSumMs,
    full.reduce((s, t) => s + t.durationMs, 0),
  );
  let remaining = whole * (1 - goal.exceedRatio);
  let quantileLoss = 1;
  for (const t of full) {
    quantileLoss = t.lossRatio;
    remaining -= t.durationMs;
    if (remaining <= 0) break;
  }
  if (remaining > 0) quantileLoss = 1;
  return loadPps * (1 - quantileLoss);
}

/** Trials grouped by load, loads ascending. */
function byLoad(trials: readonly SearchTrial[]): Map<number, SearchTrial[]> {
  const groups = new Map<number, SearchTrial[]>();
  for (const t of [...trials].sort((a, b) => a.loadPps - b.loadPps)) {
    const g = groups.get(t.loadPps);
    if (g) g.push(t);
    else groups.set(t.loadPps, [t]);
  }
  return groups;
}

interface Bracket {
  classes: Map<number, LoadClass>;
  groups: Map<number, SearchTrial[]>;
  lower: number | null;
  upper: number | null;
}

function bracketOf(trials: readonly SearchTrial[], goal: SearchGoal): Bracket {
  const groups = byLoad(trials);
  const classes = new Map<number, LoadClass>();
  for (const [load, group] of groups) classes.set(load, classifyLoad(group, goal));
  let upper: number | null = null;
  for (const [load, c] of classes) {
    if (c === "upper" && (upper === null || load < upper)) upper = load;
  }
  let lower: number | null = null;
  for (const [load, c] of classes) {
    if (c === "lower" && (upper === null || load < upper) && (lower === null || load > lower))
      lower = load;
  }
  return { classes, groups, lower, upper };
}

/** A goal's state now: done (with its status) or the load it wants measured next. */
function goalState(
  settings: SearchSettings,
  trials: readonly SearchTrial[],
  goal: SearchGoal,
): { done: Exclude<GoalStatus, "inconclusive"> } | { next: number } {
  const { minLoadPps, maxLoadPps } = settings;
  const b = bracketOf(trials, goal);
  // A load between the bounds that the evidence does not decide yet: measure it again.
  let undecided: number | null = null;
  for (const [load, c] of b.classes) {
    if (c !== "undecided") continue;
    if (b.lower !== null && load <= b.lower) continue;
    if (b.upper !== null && load >= b.upper) continue;
    if (undecided === null || load < undecided) undecided = load;
  }
  if (undecided !== null) return { next: undecided };
  if (b.upper === null) {
    if (!b.classes.has(maxLoadPps)) return { next: maxLoadPps };
    return { done: "max-load" };
  }
  if (b.lower === null) {
    if (b.upper <= minLoadPps) return { done: "below-min-load" };
    // Below the smallest upper bound, by the largest of: one width; the gap to the forwarding
    // rate measured there (what the target did take in, a guess of its capacity); twice the
    // previous step down (capped at half the load), so a run of failures reaches the bottom in
    // few trials. Bisection then narrows the bracket from both sides.
    const upper = b.upper;
    const group = b.groups.get(upper) ?? [];
    const forwarded = Math.min(...group.map((t) => upper * (1 - t.lossRatio)));
    let above: number | null = null;
    for (const [load, c] of b.classes) {
      if (c === "upper" && load > upper && (above === null || load < above)) above = load;
    }
    const previousStep = above === null ? 0 : (above - upper) / above;
    const step = Math.max(goal.width, 1 - forwarded / upper, Math.min(0.5, 2 * previousStep));
    const next = Math.round(Math.max(minLoadPps, upper * (1 - step)));
    return next >= b.upper ? { done: "resolution" } : { next };
  }
  if ((b.upper - b.lower) / b.upper <= goal.width) return { done: "found" };
  const mid = Math.round((b.lower + b.upper) / 2);
  if (mid <= b.lower || mid >= b.upper) return { done: "resolution" };
  return { next: mid };
}

/**
 * The next trial, or why the search is over. Goals are worked on in order; the budget is checked
 * first, so a caller that stops when this returns a reason never exceeds it.
 */
export function nextTrial(
  settings: SearchSettings,
  trials: readonly SearchTrial[],
): NextTrial | { stop: StopReason } {
  for (const goal of settings.goals) {
    const state = goalState(settings, trials, goal);
    if ("done" in state) continue;
    if (trials.length >= settings.maxTrials) return { stop: "max-trials" };
    const elapsed = trials.reduce((s, t) => s + t.elapsedMs, 0);
    if (elapsed >= settings.timeLimitMs) return { stop: "time-limit" };
    return { loadPps: state.next, durationMs: goal.finalTrialDurationMs, goal: goal.name };
  }
  return { stop: "complete" };
}

/** Each goal's bounds and status from the trials so far. */
export function goalResults(
  settings: SearchSettings,
  trials: readonly SearchTrial[],
): GoalResult[] {
  return settings.goals.map((goal) => {
    const b = bracketOf(trials, goal);
    const state = goalState(settings, trials, goal);
    const status: GoalStatus = "done" in state ? state.done : "inconclusive";
    const atLower = b.lower === null ? [] : (b.groups.get(b.lower) ?? []);
    const atUpper = b.upper === null ? [] : (b.groups.get(b.upper) ?? []);
    return {
      goal,
      status,
      conclusive: status !== "inconclusive",
      lowerBoundPps: b.lower,
      upperBoundPps: b.upper,
      conditionalThroughputPps:
        b.lower === null ? null : conditionalThroughput(b.lower, atLower, goal),
      relativeWidth: b.lower === null || b.upper === null ? null : (b.upper - b.lower) / b.upper,
      trialsAtLowerBound: atLower.length,
      trialsAtUpperBound: atUpper.length,
    };
  });
}

/** RFC 2544's zero-loss search as a goal: one trial of `trialMs` decides a load, any loss fails. */
export function rfc2544Goal(trialMs: number, width: number): SearchGoal {
  return {
    name: "rfc2544",
    lossRatio: 0,
    finalTrialDurationMs: trialMs,
    durationSumMs: trialMs,
    exceedRatio: 0,
    width,
  };
}

/** The defaults: stable on a shared 2-core machine in minutes. */
export const DEFAULT_GOALS: readonly SearchGoal[] = [
  {
    name: "ndr",
    lossRatio: 0,
    finalTrialDurationMs: 1000,
    durationSumMs: 3000,
    exceedRatio: 0.5,
    width: 0.05,
  },
  {
    name: "pdr",
    lossRatio: 0.005,
    finalTrialDurationMs: 1000,
    durationSumMs: 3000,
    exceedRatio: 0.5,
    width: 0.05,
  },
];
