/**
 * The scenario runner: the programmatic API under `netcons-bench run`. It runs a plan's trials
 * (once, sweep, zero-loss search, soak, compare), evaluates thresholds, and writes results.json
 * after every trial (so Ctrl-C or a crash keeps what was measured) and report.html at the end.
 */

import { randomInt } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { checkCommandTarget } from "./command-target.ts";
import { compareRuns } from "./compare.ts";
import { kernelRelease } from "./kernel-release.ts";
import { cpuMark, loadAverage, otherCpuShare } from "./machine-load.ts";
import { UsageError } from "./options.ts";
import { gridPoints, pointScenario, sideScenario } from "./points.ts";
import { renderReportHtml } from "./report-html.ts";
import {
  bestTrialOf,
  linearFit,
  type PointResult,
  p99Of,
  pointRate,
  type Results,
  recommend,
  rssFit,
  type Sample,
  type TrialFigures,
} from "./results.ts";
import type { LoadedScenario } from "./scenario-loader.ts";
import type { EachPlan, Scenario, SearchPlan } from "./schema.ts";
import { goalResults, nextTrial, type SearchSettings, type SearchTrial } from "./search.ts";
import { checkThresholdFields } from "./threshold-fields.ts";
import {
  evaluateThreshold,
  fieldsOf,
  parseThreshold,
  type Threshold,
  type ThresholdOutcome,
} from "./thresholds.ts";
import { runTrial, type TrialLive } from "./trial.ts";

export type RunEvent =
  | {
      type: "plan";
      plan: string;
      points: number;
      scenario: string;
      seed: number | null;
      outDir: string;
    }
  | { type: "trial-start"; trial: number; label: string; ratePps?: number; durationMs: number }
  | { type: "live"; live: TrialLive }
  | { type: "trial-end"; figures: TrialFigures }
  | { type: "point-end"; point: PointResult };

export interface RunScenarioOptions {
  /** Output directory (created). */
  outDir: string;
  /** The --set assignments, recorded in the results. */
  sets?: string[];
  /** Abort = stop after the current trial is cut short; the results so far are written. */
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
}

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

function sampleEvery(durationMs: number): number {
  return Math.min(1000, Math.max(200, Math.round(durationMs / 20)));
}

function pointLabel(point: Record<string, unknown>, kind: string): string {
  const entries = Object.entries(point);
  return entries.length === 0 ? kind : entries.map(([k, v]) => `${k}=${v}`).join(" ");
}

function fileSafe(s: string): string {
  return s.replace(/[^\w.=-]+/g, "_").slice(0, 80);
}

export async function runScenario(
  loaded: LoadedScenario,
  options: RunScenarioOptions,
): Promise<Results> {
  const { scenario, raw, file } = loaded;
  const emit = options.onEvent ?? (() => {});
  const signal = options.signal;
  const thresholds: Threshold[] = scenario.thresholds.map(parseThreshold);
  // Every field a threshold names must be one the plan will produce, and a command target's
  // program must exist: a typo is a usage error now, not a failed threshold or ten failed trials
  // after the whole run.
  checkThresholdFields(thresholds, scenario, file);
  checkCommandTarget(scenario, file);
  mkdirSync(join(options.outDir, "logs"), { recursive: true });
  const runStartMs = Date.now();
  const cpuStart = cpuMark();
  // One seed for the whole run (the scenario's, or drawn now and recorded), so every trial of
  // a sweep gets the same traffic and the run can be replayed with --set load.seed=N.
  const runSeed = scenario.load.seed ?? randomInt(0, 2 ** 32);
  const results: Results = {
    tool: "netcons-bench",
    version: pkg.version,
    status: "running",
    scenario: {
      name: scenario.name,
      file,
      description: scenario.description,
      definition: scenario,
      sets: options.sets ?? [],
    },
    environment: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "unknown",
      kernel: kernelRelease(),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      seed: runSeed,
      startedAt: new Date(runStartMs).toISOString(),
      finishedAt: null,
      loadAverageStart: loadAverage(),
      loadAverageEnd: null,
      otherCpuShare: null,
    },
    plan: scenario.plan.kind,
    trials: [],
    points: [],
    samples: [],
    summary: {},
    runThresholds: [],
    passed: true,
    failedThresholds: [],
    recommendation: "",
  };
  const save = () =>
    writeAtomic(join(options.outDir, "results.json"), `${JSON.stringify(results, null, 2)}\n`);

  const trial = async (
    sc: Scenario,
    label: string,
    point: Record<string, unknown>,
    extra: { side?: "A" | "B"; ratePps?: number; durationMs?: number; sampleEveryMs?: number },
  ): Promise<TrialFigures> => {
    const index = results.trials.length;
    const durationMs = extra.durationMs ?? sc.load.duration;
    if (sc.load.seed === undefined) sc = { ...sc, load: { ...sc.load, seed: runSeed } };
    emit({
      type: "trial-start",
      trial: index,
      label,
      ratePps: extra.ratePps ?? sc.load.rate,
      durationMs,
    });
    const { figures, samples } = await runTrial(
      {
        index,
        label,
        point,
        side: extra.side,
        scenario: sc,
        ratePps: extra.ratePps,
        durationMs,
        sampleEveryMs: extra.sampleEveryMs ?? sampleEvery(durationMs),
        logFile: join(
          options.outDir,
          "logs",
          `${String(index).padStart(3, "0")}-${fileSafe(`${extra.side ?? ""}${label}`)}.log`,
        ),
        runStartMs,
        scenarioDir: dirname(resolve(file)),
      },
      { signal, onLive: (live) => emit({ type: "live", live }) },
    );
    results.trials.push(figures);
    results.samples.push(...samples);
    save();
    emit({ type: "trial-end", figures });
    return figures;
  };

  /** Runs what `each` says at one point; returns the point (thresholds filled later). */
  const newPoint = (
    each: EachPlan,
    point: Record<string, unknown>,
    side?: "A" | "B",
  ): PointResult => {
    const result: PointResult = {
      label: pointLabel(point, each.kind),
      point,
      side,
      kind: each.kind,
      trials: [],
      bestTrial: null,
      thresholds: [],
    };
    results.points.push(result);
    return result;
  };

  const runEach = async (
    sc: Scenario,
    each: EachPlan,
    point: Record<string, unknown>,
    side?: "A" | "B",
  ): Promise<PointResult> => {
    const result = newPoint(each, point, side);
    const label = result.label;
    if (each.kind === "once") {
      for (let i = 0; i < each.repeat && !signal?.aborted; i++) {
        const f = await trial(sc, each.repeat > 1 ? `${label} #${i + 1}` : label, point, { side });
        result.trials.push(f.trial);
        result.bestTrial = f.trial;
      }
      return result;
    }
    const session = searchSession(sc, each, point, result, side);
    while (await session.step()) {}
    return result;
  };

  /**
   * One search at a point: asks search.ts for loads and runs them, one trial per step() (false
   * once the search is over), recording every step.
   */
  const searchSession = (
    sc: Scenario,
    each: SearchPlan,
    point: Record<string, unknown>,
    result: PointResult,
    side?: "A" | "B",
  ): { step: () => Promise<boolean> } => {
    const settings: SearchSettings = {
      minLoadPps: each.minLoad,
      maxLoadPps: each.maxLoad,
      goals: each.goals.map((g) => ({
        name: g.name,
        lossRatio: g.lossRatio,
        finalTrialDurationMs: g.finalTrialDuration,
        durationSumMs: g.durationSum,
        exceedRatio: g.exceedRatio,
        width: g.width,
      })),
      maxTrials: each.maxTrials,
      timeLimitMs: each.timeLimit,
    };
    const fed: SearchTrial[] = [];
    const search: NonNullable<PointResult["search"]> = {
      minLoadPps: each.minLoad,
      maxLoadPps: each.maxLoad,
      stoppedBy: "aborted",
      conclusive: false,
      goals: [],
      steps: [],
      elapsedMs: 0,
    };
    result.search = search;
    const settle = () => {
      search.goals = goalResults(settings, fed).map((g) => ({
        ...g.goal,
        status: g.status,
        conclusive: g.conclusive,
        lowerBoundPps: g.lowerBoundPps,
        upperBoundPps: g.upperBoundPps,
        conditionalThroughputPps: g.conditionalThroughputPps,
        relativeWidth: g.relativeWidth,
        trialsAtLowerBound: g.trialsAtLowerBound,
        trialsAtUpperBound: g.trialsAtUpperBound,
      }));
      search.conclusive = search.goals.every((g) => g.conclusive);
      // The trial that stands for the point: the last one at the primary goal's lower bound.
      const lower = search.goals[0]?.lowerBoundPps ?? null;
      const at = search.steps.filter((st) => st.loadPps === lower).at(-1);
      result.bestTrial = at?.trial ?? result.trials.at(-1) ?? null;
    };
    settle();
    const step = async (): Promise<boolean> => {
      if (signal?.aborted) {
        search.stoppedBy = "aborted";
        settle();
        return false;
      }
      const next = nextTrial(settings, fed);
      if ("stop" in next) {
        search.stoppedBy = next.stop;
        settle();
        return false;
      }
      const started = Date.now();
      const f = await trial(sc, `${result.label} @${Math.round(next.loadPps)}/s`, point, {
        side,
        ratePps: next.loadPps,
        durationMs: next.durationMs,
      });
      result.trials.push(f.trial);
      if (f.interrupted) return true; // cut short: no evidence either way
      // What the search judges: the target's loss, and a load the blaster could not offer
      // (beyond the tolerance) counts its shortfall as lost too; a failed trial lost it all.
      const shortfall = next.loadPps > 0 ? Math.max(0, 1 - f.rate.achievedPps / next.loadPps) : 0;
      const lossRatio = f.error
        ? 1
        : shortfall > each.loadTolerance
          ? 1 - (1 - shortfall) * (1 - f.loss.ratio)
          : f.loss.ratio;
      const elapsedMs = Date.now() - started;
      fed.push({ loadPps: next.loadPps, durationMs: next.durationMs, lossRatio, elapsedMs });
      search.steps.push({
        trial: f.trial,
        goal: next.goal,
        loadPps: next.loadPps,
        durationMs: next.durationMs,
        lossRatio,
        elapsedMs,
      });
      search.elapsedMs += elapsedMs;
      settle();
      save();
      return true;
    };
    return { step };
  };

  const plan = scenario.plan;
  try {
    const planned =
      plan.kind === "sweep"
        ? gridPoints(plan.grid).length
        : plan.kind === "compare"
          ? plan.rounds * 2
          : 1;
    emit({
      type: "plan",
      plan: plan.kind,
      points: planned,
      scenario: scenario.name,
      seed: results.environment.seed,
      outDir: options.outDir,
    });
    if (plan.kind === "once" || plan.kind === "search") {
      emit({ type: "point-end", point: await runEach(scenario, plan, {}) });
    } else if (plan.kind === "sweep" && plan.each.kind === "search") {
      // The points' searches take turns, one trial each, so that a change in the machine's
      // load during the sweep (other processes, heat) falls on every point alike instead of
      // ranking whichever points ran in a quiet moment.
      const each = plan.each;
      let open = gridPoints(plan.grid).map((point) => {
        const result = newPoint(each, point);
        return {
          result,
          session: searchSession(pointScenario(raw, point, file), each, point, result),
        };
      });
      while (open.length > 0) {
        const still: typeof open = [];
        for (const o of open) {
          if (await o.session.step()) still.push(o);
          else emit({ type: "point-end", point: o.result });
        }
        open = still;
      }
    } else if (plan.kind === "sweep") {
      for (const point of gridPoints(plan.grid)) {
        if (signal?.aborted) break;
        emit({
          type: "point-end",
          point: await runEach(pointScenario(raw, point, file), plan.each, point),
        });
      }
    } else if (plan.kind === "soak") {
      const point: PointResult = {
        label: "soak",
        point: {},
        kind: "soak",
        trials: [],
        bestTrial: null,
        thresholds: [],
      };
      results.points.push(point);
      const f = await trial(
        scenario,
        "soak",
        {},
        { durationMs: plan.duration, sampleEveryMs: plan.sampleEvery },
      );
      point.trials.push(f.trial);
      point.bestTrial = f.trial;
      emit({ type: "point-end", point });
    } else if (plan.kind === "compare") {
      const sides = {
        A: sideScenario(raw, "baseline", file),
        B: sideScenario(raw, "candidate", file),
      };
      for (let round = 1; round <= plan.rounds && !signal?.aborted; round++) {
        for (const side of ["A", "B"] as const) {
          if (signal?.aborted) break;
          const p = await runEach(sides[side], plan.each, { round }, side);
          emit({ type: "point-end", point: p });
        }
      }
    }
  } catch (error) {
    // A load setting the blaster refuses is a mistake in the scenario file: exit 2, like the
    // schema's own errors.
    if ((error as Error).name === "BlastOptionsError") {
      throw new UsageError(
        `${file}: load: ${(error as Error).message.replace(/--([a-z-]+)/g, (_, f: string) => f.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase()))}`,
      );
    }
    results.status = "failed";
    results.error = (error as Error).message;
  }
  if (results.status === "running") results.status = signal?.aborted ? "interrupted" : "complete";

  // Run-level figures and thresholds.
  summarize(results, scenario);
  // A compare plan is judged on its verdict (compare.*); every other plan point by point.
  if (plan.kind === "compare") results.runThresholds = evaluateAll(thresholds, results.summary);
  else
    for (const p of results.points)
      p.thresholds = thresholds.map((t) => evaluatePoint(t, results, p));
  // A trial that went wrong (the target died during the load...) fails its point whatever the
  // thresholds say; a search already counts such a trial as a failed step.
  for (const p of results.points) {
    if (p.search) continue;
    for (const i of p.trials) {
      const failure = results.trials[i]?.error;
      if (failure)
        p.thresholds.push({ threshold: "trial", pass: false, message: `trial ${i}: ${failure}` });
    }
  }
  for (const p of results.points) {
    for (const o of p.thresholds)
      if (!o.pass) results.failedThresholds.push(`[${p.label}] ${o.message}`);
  }
  for (const o of results.runThresholds) if (!o.pass) results.failedThresholds.push(o.message);
  results.passed = results.status === "complete" && results.failedThresholds.length === 0;
  results.environment.finishedAt = new Date().toISOString();
  results.environment.loadAverageEnd = loadAverage();
  // Command targets' CPU is theirs; our in-process receiver's is this process's own.
  results.environment.otherCpuShare = otherCpuShare(
    cpuStart,
    results.trials.reduce((sum, t) => sum + (t.targetKind === "command" ? t.target.cpuMs : 0), 0),
  );
  results.recommendation = recommend(results);
  save();
  writeAtomic(join(options.outDir, "report.html"), renderReportHtml(results));
  return results;
}

function evaluateAll(thresholds: readonly Threshold[], figures: unknown): ThresholdOutcome[] {
  return thresholds.map((t) => evaluateThreshold(t, figures));
}

/**
 * What thresholds see for a point: its trial's figures, the run summaries, and its search goals
 * by name (`search.ndr.lowerBoundPps`, `search.ndr.conclusive`).
 */
export function pointFigures(results: Results, p: PointResult): Record<string, unknown> {
  const search = p.search ? Object.fromEntries(p.search.goals.map((g) => [g.name, g])) : undefined;
  return { ...bestTrialOf(results, p), ...results.summary, search };
}

/**
 * One threshold at one point. A threshold that reads an inconclusive search goal fails and says
 * so, whatever the bracket's figures are: they are not a result.
 */
function evaluatePoint(t: Threshold, results: Results, p: PointResult): ThresholdOutcome {
  const outcome = evaluateThreshold(t, pointFigures(results, p));
  const open = (p.search?.goals ?? []).filter(
    (g) => !g.conclusive && fieldsOf(t).some((f) => f.startsWith(`search.${g.name}.`)),
  );
  if (open.length === 0) return outcome;
  const g = open[0];
  return {
    threshold: t.source,
    pass: false,
    message: `${t.source}: FAILED, search goal ${g.name} was inconclusive (stopped by ${p.search!.stoppedBy}; bracket ${g.lowerBoundPps ?? "none"} to ${g.upperBoundPps ?? "none"} msg/s)`,
  };
}

function summarize(results: Results, scenario: Scenario): void {
  const plan = scenario.plan;
  if (plan.kind === "soak") {
    const t = results.trials[0];
    const s = results.samples.filter((x) => x.trial === 0);
    // The slope over the second half only: start-up (threads, JIT, buffers, host tables) grows
    // RSS at first; what must level off is the steady state.
    const steady = s.slice(Math.floor(s.length / 2));
    const slope = (xs: Sample[]) =>
      linearFit(
        xs.map((x) => x.tMs / 60000),
        xs.map((x) => x.rssBytes),
      )?.slope ?? 0;
    results.summary.soak = {
      samples: s.length,
      rssSlopeBytesPerMin: slope(steady),
      rssSlopeWholeRunBytesPerMin: slope(s),
      rssGrowthBytes: t ? t.target.rssFinalBytes - t.target.rssIdleBytes : 0,
      maxDropsInSample: s.reduce((m, x) => Math.max(m, x.drops), 0),
    };
  }
  if (plan.kind === "sweep") {
    const keys = Object.keys(plan.grid);
    if (keys.length === 1) {
      const key = keys[0];
      const { fit } = rssFit(results, key);
      const firstLoss = results.points.find(
        (p) => (bestTrialOf(results, p)?.loss.packets ?? 0) > 0,
      );
      results.summary.fit = {
        key,
        rssPerUnitBytes: fit ? fit.slope : null,
        firstLossAt: firstLoss ? firstLoss.point[key] : null,
      };
    }
  }
  if (plan.kind === "compare") {
    const runs = results.points
      .filter((p) => p.side !== undefined && p.bestTrial !== null)
      .map((p) => {
        const t = results.trials[p.bestTrial!];
        return {
          side: p.side!,
          metrics: {
            // An inconclusive search has no throughput: NaN is left out of the verdict.
            throughputPps: pointRate(results, p) ?? Number.NaN,
            // For a search, the loss at its first trial (the top rate): the same load on both
            // sides, unlike the best trial, which has no loss by definition.
            lossRatio: p.search ? results.trials[p.trials[0]].loss.ratio : t.loss.ratio,
            p99Us: p99Of(t),
          },
        };
      });
    results.compare = compareRuns(runs, {
      tolerance: plan.tolerance,
      lossTolerance: plan.lossTolerance,
    });
    results.summary.compare = results.compare;
  }
}
