/**
 * The results of a scenario run: the results.json shape, the terminal table per plan, and the
 * recommendation sentence computed from the data. Pure: the runner fills these in; the HTML
 * report and the tests read them.
 */
import { renderTable } from "./bench/table.ts";
import type { CompareVerdict } from "./compare.ts";
import type { ThresholdOutcome } from "./thresholds.ts";

/** One sample of a trial's time series (all runs share one timeline: ms since the run began). */
export interface Sample {
  /** ms since the run started. */
  tMs: number;
  trial: number;
  /** Send rate over the last interval (datagrams/s), from the blaster's progress. */
  sentPps: number;
  /** Datagrams the target took in over the last interval, when it says (our receiver). */
  receivedPps: number | null;
  /** Drops so far in this trial (kernel socket + receiver queue). */
  drops: number;
  /** RSS of the target (the external process tree; for our in-process receiver, this process). */
  rssBytes: number;
}

/** Every figure of one trial; thresholds are evaluated over this object. */
export interface TrialFigures {
  trial: number;
  label: string;
  /** The sweep point or compare side this trial belongs to. */
  point: Record<string, unknown>;
  side?: "A" | "B";
  targetKind: "receiver" | "command";
  startedAt: string;
  durationMs: number;
  interrupted: boolean;
  error?: string;
  rate: { targetPps: number; achievedPps: number; deliveredPps: number };
  sent: { messages: number; packets: number; packetsOnWire: number };
  /** Datagrams lost by the target (not the ones the blaster dropped on purpose). */
  loss: { packets: number; ratio: number; source: string };
  drops: { total: number; kernel: number; queue: number; rcvbufErrorsSystemWide?: number };
  latencyUs?: Record<string, Record<string, number>>;
  injected?: Record<string, number>;
  expected?: Record<string, number>;
  /** Our receiver's findings (packets, messages, sequence, ...). */
  packets?: Record<string, number>;
  messages?: Record<string, number>;
  sequence?: Record<string, number>;
  hosts?: number;
  ledger?: { balanced: number; unexplained: number; lines: unknown };
  /** What was measured about the target process. */
  target: {
    cpuMs: number;
    rssIdleBytes: number;
    rssPeakBytes: number;
    rssFinalBytes: number;
    memoryPerHostBytes: number;
    netconsd?: {
      processed: number;
      hosts: number;
      /** Simulated hosts the blaster sent from (each with its own source address on loopback). */
      hostsSent: number;
      /** sent on the wire - processed: what the target never counted. */
      unaccounted: number;
      /** unaccounted - socket drops: loss the kernel counters do not explain. */
      unexplained: number;
    };
    exitCode?: number | null;
    exitSignal?: string | null;
    logFile?: string;
    outputTail?: string;
  };
  /** The reports as the blaster and the target gave them. */
  blast: unknown;
  receiver?: unknown;
  external?: unknown;
}

/** A point of a plan: one once-trial (or repeats), one search, one compare side run. */
export interface PointResult {
  label: string;
  point: Record<string, unknown>;
  side?: "A" | "B";
  kind: "once" | "zero-loss-search" | "soak";
  trials: number[];
  /** The trial that stands for this point (the last repeat, or the search's best). */
  bestTrial: number | null;
  search?: {
    zeroLossPps: number;
    failedPps: number | null;
    stoppedBy: string;
    steps: { ratePps: number; pass: boolean; trial: number; failed: string[] }[];
  };
  thresholds: ThresholdOutcome[];
}

export interface Results {
  tool: "netcons-bench";
  version: string;
  /** "running" while trials are still being written (a file left so was cut off by a crash). */
  status: "running" | "complete" | "interrupted" | "failed";
  error?: string;
  scenario: {
    name: string;
    file: string;
    description: string;
    definition: unknown;
    sets: string[];
  };
  environment: {
    cpus: number;
    cpuModel: string;
    kernel: string;
    node: string;
    platform: string;
    seed: number | null;
    startedAt: string;
    finishedAt: string | null;
  };
  plan: string;
  trials: TrialFigures[];
  points: PointResult[];
  /** Time series of the whole run (every trial on one timeline). */
  samples: Sample[];
  compare?: CompareVerdict;
  /** Run-level figures the thresholds may use besides each point's (compare.*, hostScale.*). */
  summary: Record<string, unknown>;
  /** Thresholds judged on the run as a whole (the compare plan's verdict). */
  runThresholds: ThresholdOutcome[];
  passed: boolean;
  failedThresholds: string[];
  recommendation: string;
}

function fmtRate(pps: number): string {
  if (pps >= 1e6) return `${(pps / 1e6).toFixed(2)}M`;
  if (pps >= 1e4) return `${Math.round(pps / 1e3)}k`;
  if (pps >= 1e3) return `${(pps / 1e3).toFixed(1)}k`;
  return `${Math.round(pps)}`;
}

export function fmtBytes(b: number): string {
  if (b >= 1 << 30) return `${(b / (1 << 30)).toFixed(2)} GiB`;
  if (b >= 1 << 20) return `${(b / (1 << 20)).toFixed(1)} MiB`;
  if (b >= 1 << 10) return `${(b / (1 << 10)).toFixed(1)} KiB`;
  return `${Math.round(b)} B`;
}

function fmtUs(us: number | undefined): string {
  if (us === undefined || !Number.isFinite(us)) return "-";
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${Math.round(us)} µs`;
}

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

/** The figure a point is ranked by: its zero-loss rate, or the delivered rate of its trial. */
export function pointRate(results: Results, p: PointResult): number {
  if (p.search) return p.search.zeroLossPps;
  const t = bestTrialOf(results, p);
  return t ? t.rate.deliveredPps : 0;
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
 * The recommendation sentence, from the data: for a listeners x workers sweep, the smallest
 * configuration within 5% of the best, what it held, its p99, and what one more worker or
 * listener added; for a host sweep, memory per host and where drops began; for a soak, RSS
 * growth; for a compare, the verdict.
 */
export function recommend(results: Results): string {
  const points = results.points.filter((p) => p.bestTrial !== null || p.search);
  if (results.compare) return results.compare.summary;
  if (points.length === 0) return "No trial completed, so there is nothing to recommend.";
  const trialOf = (p: PointResult) => bestTrialOf(results, p);
  const lossless = (p: PointResult) =>
    p.search ? p.search.zeroLossPps > 0 : (trialOf(p)?.loss.packets ?? 1) === 0;

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
        ? `RSS grew by ${fmtBytes(Math.max(0, fit.slope))} per unit of ${key} (linear fit over ${steps} steps)`
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
    const ranked = [...points].sort((a, b) => pointRate(results, b) - pointRate(results, a));
    const best = ranked[0];
    const bestRate = pointRate(results, best);
    if (bestRate <= 0) return "No configuration of the sweep ran without loss.";
    // The cheapest configuration (fewest threads) within 5% of the best.
    const cost = (p: PointResult) => lw.reduce((s, k) => s + Number(p.point[k] ?? 0), 0);
    const pick =
      points
        .filter((p) => pointRate(results, p) >= 0.95 * bestRate && lossless(p))
        .sort((a, b) => cost(a) - cost(b) || pointRate(results, b) - pointRate(results, a))[0] ??
      best;
    const rate = pointRate(results, pick);
    const what = pick.search ? "held" : "delivered";
    const p99 = p99Of(trialOf(pick));
    let sentence = `${configLabel(pick.point)} ${what} ${fmtRate(rate)} msg/s with no loss`;
    if (!lossless(pick))
      sentence = `${configLabel(pick.point)} delivered ${fmtRate(rate)} msg/s (with loss)`;
    if (p99 !== undefined) sentence += `; p99 ${fmtUs(p99)}`;
    // What the next step up of each thread kind added, relative to the pick; at the top of the
    // grid, what the pick gained over the step below.
    const pct = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}%`;
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
        sentence += `; ${pct(pointRate(results, up) / rate - 1)} with more ${name}s (${configLabel(up.point)})`;
      } else if (down && pointRate(results, down) > 0) {
        sentence += `; ${pct(rate / pointRate(results, down) - 1)} over fewer ${name}s (${configLabel(down.point)})`;
      }
    }
    if (pick !== best)
      sentence += ` (best: ${configLabel(best.point)} at ${fmtRate(bestRate)} msg/s)`;
    return `${sentence}.`;
  }

  const p = points[points.length - 1];
  const t = trialOf(p);
  if (results.plan === "zero-loss-search" && p.search) {
    const p99 = p99Of(t);
    return p.search.zeroLossPps > 0
      ? `Highest rate with no loss: ${fmtRate(p.search.zeroLossPps)} msg/s${p99 !== undefined ? ` (p99 ${fmtUs(p99)})` : ""}; ${p.search.failedPps === null ? "the top of the range passed, so raise highPps" : `${fmtRate(p.search.failedPps)} msg/s lost messages`}.`
      : `Even ${fmtRate(p.search.steps.find((s) => !s.pass)?.ratePps ?? 0)} msg/s lost messages: lower lowPps.`;
  }
  if (!t) return "No trial completed, so there is nothing to recommend.";
  if (results.plan === "soak") {
    const slope = (results.summary.soak as { rssSlopeBytesPerMin?: number } | undefined)
      ?.rssSlopeBytesPerMin;
    return `Over ${(t.durationMs / 60000).toFixed(1)} min at ${fmtRate(t.rate.achievedPps)} msg/s: ${t.loss.packets} datagrams lost, RSS ${fmtBytes(t.target.rssIdleBytes)} -> ${fmtBytes(t.target.rssFinalBytes)}${slope !== undefined ? ` (${slope >= 0 ? "+" : "-"}${fmtBytes(Math.abs(slope))}/min in the second half)` : ""}${p99Of(t) !== undefined ? `, p99 ${fmtUs(p99Of(t))}` : ""}.`;
  }
  return `${fmtRate(t.rate.deliveredPps)} msg/s delivered of ${fmtRate(t.rate.targetPps)} msg/s asked, ${t.loss.packets} datagrams lost by the target${p99Of(t) !== undefined ? `, p99 ${fmtUs(p99Of(t))}` : ""}.`;
}

/** The table printed after a run (one row per point; for searches also one per step). */
export function resultsTable(results: Results): string {
  const header = [
    "point",
    "trials",
    "target pps",
    "delivered pps",
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
    const rate = p.search
      ? `${fmtRate(p.search.zeroLossPps)} (zero-loss)`
      : t
        ? fmtRate(t.rate.deliveredPps)
        : "-";
    rows.push([
      `${p.side ? `${p.side} ` : ""}${p.label}`,
      String(p.trials.length),
      t ? fmtRate(t.rate.targetPps) : "-",
      rate,
      t ? String(t.loss.packets) : "-",
      t ? String(t.drops.total) : "-",
      fmtUs(p99Of(t)),
      t ? `${(t.target.cpuMs / 1000).toFixed(2)} s` : "-",
      t ? fmtBytes(t.target.rssPeakBytes) : "-",
      p.thresholds.length === 0 ? "-" : failed === 0 ? "ok" : `${failed} FAILED`,
    ]);
  }
  let out = renderTable(header, rows);
  const searches = results.points.filter((p) => p.search);
  if (searches.length > 0) {
    const stepRows: string[][] = [];
    for (const p of searches) {
      for (const s of p.search!.steps) {
        const t = results.trials[s.trial];
        stepRows.push([
          `${p.side ? `${p.side} ` : ""}${p.label}`,
          fmtRate(s.ratePps),
          t ? fmtRate(t.rate.achievedPps) : "-",
          t ? String(t.loss.packets) : "-",
          s.pass ? "pass" : `fail: ${s.failed.join("; ")}`,
        ]);
      }
    }
    out += `\n\nsearch steps\n${renderTable(["point", "rate", "achieved", "lost", "result"], stepRows)}`;
  }
  if (results.compare) {
    const show = (metric: string, v: number) =>
      metric === "lossRatio"
        ? `${(v * 100).toFixed(2)}%`
        : metric === "p99Us"
          ? fmtUs(v)
          : fmtRate(v);
    const rows2 = results.compare.metrics.map((m) => [
      m.metric,
      m.a.map((v) => show(m.metric, v)).join(" "),
      m.b.map((v) => show(m.metric, v)).join(" "),
      m.ratio === null ? "-" : m.ratio.toFixed(3),
      m.verdict,
    ]);
    out += `\n\nbaseline (A) vs candidate (B)\n${renderTable(["metric", "A runs", "B runs", "B/A", "verdict"], rows2)}`;
  }
  return out;
}
