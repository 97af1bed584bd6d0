/**
 * What a scenario run's results say to a person: the terminal table per plan and the
 * recommendation sentence, computed from the data (results.json's shape is results-schema.ts).
 * Pure: the runner fills the results in; the HTML report and the tests read them.
 */
import { renderTable } from "./bench/table.ts";
import { bytes, count, durationUs, figure, percent, rate as perSecond } from "./format.ts";
import { BUSY_SHARE_LIMIT } from "./machine-load.ts";
import type { GoalOutcome, PointResult, Results, TrialFigures } from "./results-schema.ts";
import { DEFAULT_EQUIVALENCE, type Scenario } from "./schema.ts";

export type {
  GoalOutcome,
  PointResult,
  Results,
  Sample,
  SearchStep,
  TrialFigures,
} from "./results-schema.ts";

export function p99Of(t: TrialFigures | undefined): number | undefined {
  return t?.latencyUs?.endToEnd?.p99;
}

/** The trial that stands for a point (undefined before it has one). */
export function bestTrialOf(results: Results, p: PointResult): TrialFigures | undefined {
  return p.bestTrial === null ? undefined : results.trials[p.bestTrial];
}

/**
 * Peak RSS against a swept setting (host-scale): the linear fit over the points that have a
 * trial and a numeric value of `key`, and how many such points there were.
 */
export function rssFit(
  results: Results,
  key: string,
): { fit: ReturnType<typeof linearFit>; steps: number } {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const p of results.points) {
    const t = bestTrialOf(results, p);
    if (t && typeof p.point[key] === "number") {
      xs.push(p.point[key] as number);
      ys.push(t.target.rssPeakBytes);
    }
  }
  return { fit: linearFit(xs, ys), steps: xs.length };
}

/** Least-squares slope and intercept of y over x. */
export function linearFit(
  xs: readonly number[],
  ys: readonly number[],
): { slope: number; intercept: number } | null {
  const n = xs.length;
  if (n < 2) return null;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i] - mx) ** 2;
    sxy += (xs[i] - mx) * (ys[i] - my);
  }
  if (sxx === 0) return null;
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

/** The goal that stands for a searched point: its first. */
export function primaryGoal(p: PointResult): GoalOutcome | undefined {
  return p.search?.goals[0];
}

/**
 * The figure a point is ranked by: its primary goal's lower bound when that search concluded
 * (null when it did not, or when nothing held), or the delivered rate of its trial.
 */
export function pointRate(results: Results, p: PointResult): number | null {
  if (p.search) {
    const g = primaryGoal(p);
    return g?.conclusive ? g.lowerBoundPps : null;
  }
  const t = bestTrialOf(results, p);
  return t ? t.rate.deliveredPps : null;
}

/** "0% loss" / "0.5% loss" and the goal's name. */
export function goalTitle(g: GoalOutcome): string {
  return `${g.name} (${percent(g.lossRatio)} loss)`;
}

/** The range "46,012-54,210/s" of two rates. */
function rangeText(low: number, high: number): string {
  return `${count(low)}-${perSecond(high)}`;
}

/** A goal's outcome in words; an inconclusive one says so with its bracket, never as a figure. */
export function goalText(g: GoalOutcome): string {
  const lo = g.lowerBoundPps;
  const hi = g.upperBoundPps;
  switch (g.status) {
    case "found":
    case "resolution":
      return rangeText(lo ?? 0, hi ?? lo ?? 0);
    case "max-load":
      return `at least ${perSecond(lo ?? 0)} (the highest load tried held)`;
    case "below-min-load":
      return `below ${perSecond(hi ?? 0)} (the lowest load tried was too much)`;
    case "inconclusive":
      return `inconclusive: between ${lo === null ? "nothing held" : perSecond(lo)} and ${hi === null ? "nothing too much" : perSecond(hi)}`;
  }
}

/** "a", "a and b", "a, b and c". */
function listText(items: readonly string[]): string {
  return items.length <= 1
    ? (items[0] ?? "")
    : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/**
 * A listeners x workers sweep of searches, judged by the primary goal's bounds: points whose
 * [lower, upper] intervals overlap the best point's are equivalent within the measurement's
 * precision, and the cheapest (fewest threads) of them is recommended. Inconclusive points are
 * named as such and never ranked.
 */
function recommendBySearch(
  points: readonly PointResult[],
  lw: readonly string[],
  otherCpuShare: number | null,
  equivalence: number,
): string {
  const cost = (p: PointResult) => lw.reduce((s, k) => s + Number(p.point[k] ?? 0), 0);
  const label = (p: PointResult) => configLabel(p.point);
  const inconclusive = points.filter((p) => !primaryGoal(p)?.conclusive);
  const held = points.filter((p) => {
    const g = primaryGoal(p);
    return g?.conclusive && g.lowerBoundPps !== null;
  });
  const tooMuch = points.filter((p) => primaryGoal(p)?.status === "below-min-load");
  const notes: string[] = [];
  if (inconclusive.length > 0) {
    notes.push(
      `Not compared, their searches ran out of trials or time: ${inconclusive
        .map((p) => `${label(p)} (${primaryGoal(p) ? goalText(primaryGoal(p)!) : "no trial"})`)
        .join("; ")}; raise plan.each.maxTrials or plan.each.timeLimit.`,
    );
  }
  if (tooMuch.length > 0) {
    notes.push(
      `${listText(tooMuch.map(label))} lost even at the lowest load (${perSecond(primaryGoal(tooMuch[0])!.upperBoundPps ?? 0)}).`,
    );
  }
  const tail = notes.length > 0 ? ` ${notes.join(" ")}` : "";
  if (held.length === 0) {
    return `No configuration has a conclusive throughput.${tail}`;
  }
  const goal = primaryGoal(held[0])!;
  const lower = (p: PointResult) => primaryGoal(p)!.lowerBoundPps!;
  const upper = (p: PointResult) => primaryGoal(p)!.upperBoundPps ?? lower(p);
  const top = [...held].sort((a, b) => lower(b) - lower(a))[0];
  const group = held.filter((p) => upper(p) >= lower(top) * (1 - equivalence));
  const cheapest = [...group].sort((a, b) => cost(a) - cost(b) || lower(b) - lower(a))[0];
  const goalName = `${percent(goal.lossRatio)} loss (goal ${goal.name})`;
  // The bounds hold for the moment they were measured in; when other processes took a large
  // share of the machine, that moment says little about the configurations.
  if (otherCpuShare !== null && otherCpuShare > BUSY_SHARE_LIMIT) {
    const ranked = [...held].sort((a, b) => lower(b) - lower(a));
    return `No configuration can be named best: other processes took ${percent(otherCpuShare)} of the machine's CPU during the sweep (above ${percent(BUSY_SHARE_LIMIT)}), so the leaders are tied. Measured at ${goalName}: ${ranked.map((p) => `${label(p)} ${goalText(primaryGoal(p)!)}`).join(", ")}; repeat on a quiet machine.${tail}`;
  }
  if (group.length === 1) {
    const rest = held.filter((p) => p !== top).sort((a, b) => lower(b) - lower(a));
    const next = rest[0];
    return `${label(top)} is best at ${goalName}: ${goalText(primaryGoal(top)!)}${next ? `, clear of the next, ${label(next)} (${goalText(primaryGoal(next)!)})` : ""}.${tail}`;
  }
  const low = Math.min(...group.map(lower));
  const high = Math.max(...group.map(upper));
  const span = low === high ? `all held the highest load, ${perSecond(low)}` : rangeText(low, high);
  const ordered = [...group].sort((a, b) => cost(a) - cost(b) || lower(b) - lower(a));
  const alike = ordered.filter((p) => p !== cheapest && cost(p) === cost(cheapest));
  const tie =
    alike.length > 0
      ? ` (${listText(alike.map(label))} ${alike.length > 1 ? "have" : "has"} as few threads)`
      : "";
  const margin =
    equivalence > 0
      ? `, bounds within ${percent(equivalence)} of the best as repeated sweeps move them (plan.each.equivalence)`
      : "";
  return `${listText(ordered.map(label))} are equivalent within the measurement's precision at ${goalName} (${span}${margin}); the cheapest is ${label(cheapest)}${tie}.${tail}`;
}

/** The sweep's plan.each.equivalence (the schema's default when the file predates it). */
function equivalenceOf(results: Results): number {
  const plan = (results.scenario?.definition as Scenario | undefined)?.plan;
  const each = plan?.kind === "sweep" ? plan.each : undefined;
  // definition is results.json's record of the scenario: a file from before the key lacks it.
  return (each?.kind === "search" ? each.equivalence : undefined) ?? DEFAULT_EQUIVALENCE;
}

function configLabel(point: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(point)) {
    if (k === "listeners" || k === "target.listeners") parts.push(`-l ${v}`);
    else if (k === "workers" || k === "target.workers") parts.push(`-w ${v}`);
    else parts.push(`${k}=${v}`);
  }
  return parts.join(" ");
}

/**
 * The recommendation sentence, from the data: for a listeners x workers sweep of searches, the
 * cheapest of the configurations equivalent to the best (recommendBySearch); of single trials,
 * the smallest configuration within 5% of the best and what one more thread added; for a host
 * sweep, memory per host and where drops began; for a soak, RSS growth; for a compare, the
 * verdict.
 */
export function recommend(results: Results): string {
  const points = results.points.filter((p) => p.bestTrial !== null || p.search);
  if (results.compare) return results.compare.summary;
  if (points.length === 0) return "No trial completed, so there is nothing to recommend.";
  const trialOf = (p: PointResult) => bestTrialOf(results, p);
  const lossless = (p: PointResult) =>
    p.search
      ? (primaryGoal(p)?.conclusive ?? false) && primaryGoal(p)!.lowerBoundPps !== null
      : (trialOf(p)?.loss.packets ?? 1) === 0;

  if (results.plan === "sweep") {
    const keys = Object.keys(points[0].point);
    const lw = keys.filter((k) => /(^|\.)(listeners|workers)$/.test(k));
    const other = keys.filter((k) => !lw.includes(k));
    if (other.length === 1 && lw.length === 0) {
      // A sweep over one load setting (host-scale): memory per step and where loss began.
      const key = other[0];
      const { fit, steps } = rssFit(results, key);
      const firstLoss = points.find((p) => !lossless(p));
      const memory = fit
        ? `RSS grew by ${bytes(Math.max(0, fit.slope))} per unit of ${key} (linear fit over ${steps} steps)`
        : "";
      const loss = firstLoss
        ? `loss began at ${key}=${firstLoss.point[key]} (${trialOf(firstLoss)?.loss.packets ?? "?"} datagrams lost)`
        : `no loss up to ${key}=${points[points.length - 1].point[key]}`;
      return [memory, loss].filter((s) => s !== "").join("; ") + ".";
    }
    if (lw.length === 0) {
      // A sweep over load settings (an oracle): what matters is which points held.
      const failing = points.filter((p) => p.thresholds.some((o) => !o.pass));
      if (points.every((p) => p.thresholds.length === 0)) {
        return `${points.length} points measured; no thresholds were set, so nothing was checked.`;
      }
      return failing.length === 0
        ? `Every threshold held at all ${points.length} points (${points[0].thresholds.length} checks each).`
        : `${failing.length} of ${points.length} points failed a threshold: ${failing
            .slice(0, 3)
            .map(
              (p) =>
                `${p.label} (${p.thresholds
                  .filter((o) => !o.pass)
                  .map((o) => o.threshold)
                  .join(", ")})`,
            )
            .join("; ")}${failing.length > 3 ? "; ..." : ""}.`;
    }
    if (points.some((p) => p.search))
      return recommendBySearch(
        points,
        lw,
        results.environment?.otherCpuShare ?? null,
        equivalenceOf(results),
      );
    const rateOf = (p: PointResult) => pointRate(results, p) ?? 0;
    const ranked = [...points].sort((a, b) => rateOf(b) - rateOf(a));
    const best = ranked[0];
    const bestRate = rateOf(best);
    if (bestRate <= 0) return "No configuration of the sweep ran without loss.";
    // The cheapest configuration (fewest threads) within 5% of the best.
    const cost = (p: PointResult) => lw.reduce((s, k) => s + Number(p.point[k] ?? 0), 0);
    const pick =
      points
        .filter((p) => rateOf(p) >= 0.95 * bestRate && lossless(p))
        .sort((a, b) => cost(a) - cost(b) || rateOf(b) - rateOf(a))[0] ?? best;
    const rate = rateOf(pick);
    const what = pick.search ? "held" : "delivered";
    const p99 = p99Of(trialOf(pick));
    let sentence = `${configLabel(pick.point)} ${what} ${perSecond(rate)} with no loss`;
    if (!lossless(pick))
      sentence = `${configLabel(pick.point)} delivered ${perSecond(rate)} (with loss)`;
    if (p99 !== undefined) sentence += `; p99 ${durationUs(p99)}`;
    // What the next step up of each thread kind added, relative to the pick; at the top of the
    // grid, what the pick gained over the step below.
    const pct = (x: number) => `${x >= 0 ? "+" : ""}${percent(x)}`;
    for (const k of lw) {
      const name = k.endsWith("listeners") ? "listener" : "worker";
      const sameElsewhere = (p: PointResult) =>
        keys.every((o) => o === k || p.point[o] === pick.point[o]);
      const next = (dir: 1 | -1) =>
        points
          .filter((p) => sameElsewhere(p) && dir * (Number(p.point[k]) - Number(pick.point[k])) > 0)
          .sort((a, b) => dir * (Number(a.point[k]) - Number(b.point[k])))[0];
      const up = next(1);
      const down = next(-1);
      if (up) {
        sentence += `; ${pct(rateOf(up) / rate - 1)} with more ${name}s (${configLabel(up.point)})`;
      } else if (down && rateOf(down) > 0) {
        sentence += `; ${pct(rate / rateOf(down) - 1)} over fewer ${name}s (${configLabel(down.point)})`;
      }
    }
    if (pick !== best) sentence += ` (best: ${configLabel(best.point)} at ${perSecond(bestRate)})`;
    return `${sentence}.`;
  }

  const p = points[points.length - 1];
  const t = trialOf(p);
  if (p.search) {
    const p99 = p99Of(t);
    const goals = p.search.goals.map((g) => {
      const ct =
        g.conclusive && g.conditionalThroughputPps !== null
          ? ` (conditional throughput ${perSecond(g.conditionalThroughputPps)})`
          : "";
      return `${goalTitle(g)}: ${goalText(g)}${ct}`;
    });
    const stop = p.search.conclusive
      ? ""
      : ` The search stopped (${p.search.stoppedBy}) before every goal was done: raise maxTrials or timeLimit.`;
    return `${goals.join("; ")}${p99 !== undefined && p.search.conclusive ? `; p99 ${durationUs(p99)} at the lower bound` : ""}.${stop}`;
  }
  if (!t) return "No trial completed, so there is nothing to recommend.";
  if (results.plan === "soak") {
    const slope = (results.summary.soak as { rssSlopeBytesPerMin?: number } | undefined)
      ?.rssSlopeBytesPerMin;
    return `Over ${durationUs(t.durationMs * 1000)} at ${perSecond(t.rate.achievedPps)}: ${count(t.loss.packets)} datagrams lost, RSS ${bytes(t.target.rssIdleBytes)} -> ${bytes(t.target.rssFinalBytes)}${slope !== undefined ? ` (${slope >= 0 ? "+" : "-"}${bytes(Math.abs(slope))}/min in the second half)` : ""}${p99Of(t) !== undefined ? `, p99 ${durationUs(p99Of(t))}` : ""}.`;
  }
  return `${perSecond(t.rate.deliveredPps)} delivered of ${perSecond(t.rate.targetPps)} asked, ${count(t.loss.packets)} datagrams lost by the target${p99Of(t) !== undefined ? `, p99 ${durationUs(p99Of(t))}` : ""}.`;
}

/** The table printed after a run (one row per point; for searches also one per step). */
export function resultsTable(results: Results): string {
  const header = [
    "point",
    "trials",
    "target",
    "delivered",
    "lost",
    "drops",
    "p99",
    "cpu",
    "rss peak",
    "verdict",
  ];
  const rows: string[][] = [];
  for (const p of results.points) {
    const t = bestTrialOf(results, p);
    const failed = p.thresholds.filter((o) => !o.pass).length;
    const g = primaryGoal(p);
    const rate = g
      ? g.conclusive
        ? `${goalText(g)} (${g.name})`
        : `inconclusive (${g.name})`
      : t
        ? perSecond(t.rate.deliveredPps)
        : "-";
    rows.push([
      `${p.side ? `${p.side} ` : ""}${p.label}`,
      String(p.trials.length),
      t ? perSecond(t.rate.targetPps) : "-",
      rate,
      t ? count(t.loss.packets) : "-",
      t ? count(t.drops.total) : "-",
      durationUs(p99Of(t)),
      t ? durationUs(t.target.cpuMs * 1000) : "-",
      t ? bytes(t.target.rssPeakBytes) : "-",
      p.thresholds.length === 0 ? "-" : failed === 0 ? "ok" : `${failed} FAILED`,
    ]);
  }
  let out = renderTable(header, rows);
  const searches = results.points.filter((p) => p.search);
  if (searches.length > 0) {
    const goalRows: string[][] = [];
    const stepRows: string[][] = [];
    for (const p of searches) {
      const name = `${p.side ? `${p.side} ` : ""}${p.label}`;
      for (const g of p.search!.goals) {
        goalRows.push([
          name,
          goalTitle(g),
          g.conclusive ? g.status : `INCONCLUSIVE (${p.search!.stoppedBy})`,
          g.lowerBoundPps === null ? "-" : perSecond(g.lowerBoundPps),
          g.upperBoundPps === null ? "-" : perSecond(g.upperBoundPps),
          g.conditionalThroughputPps === null ? "-" : perSecond(g.conditionalThroughputPps),
          g.relativeWidth === null ? "-" : percent(g.relativeWidth),
          `${g.trialsAtLowerBound}/${g.trialsAtUpperBound}`,
        ]);
      }
      for (const s of p.search!.steps) {
        const t = results.trials[s.trial];
        stepRows.push([
          name,
          s.goal,
          perSecond(s.loadPps),
          durationUs(s.durationMs * 1000),
          t ? perSecond(t.rate.achievedPps) : "-",
          percent(s.lossRatio),
        ]);
      }
    }
    out += `\n\nsearch goals (trials at lower/upper bound)\n${renderTable(["point", "goal", "status", "lower", "upper", "cond. throughput", "width", "trials"], goalRows)}`;
    out += `\n\nsearch trials\n${renderTable(["point", "for goal", "load", "duration", "achieved", "loss"], stepRows)}`;
  }
  if (results.compare) {
    const show = (metric: string, v: number) =>
      metric === "lossRatio" ? percent(v) : metric === "p99Us" ? durationUs(v) : perSecond(v);
    const rows2 = results.compare.metrics.map((m) => [
      m.metric,
      m.a.map((v) => show(m.metric, v)).join(" "),
      m.b.map((v) => show(m.metric, v)).join(" "),
      figure(m.ratio),
      m.verdict,
    ]);
    out += `\n\nbaseline (A) vs candidate (B)\n${renderTable(["metric", "A runs", "B runs", "B/A", "verdict"], rows2)}`;
  }
  return out;
}
