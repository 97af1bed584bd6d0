/**
 * What a micro-benchmark suite is, and how one is run with tinybench next to the reference
 * workload so that every figure also comes out as a ratio to it.
 */
import { Bench } from "tinybench";
import type { Measurement } from "./format.ts";
import { REFERENCE_NAME, referenceOp, referenceState } from "./reference.ts";
import { medianWithMargin } from "./stats.ts";

export interface BenchTask {
  name: string;
  /**
   * One operation. It returns something derived from its work so the JIT cannot drop the
   * work as dead code (the runner folds the results into a sink).
   */
  op: () => unknown;
  /** What one operation is, for people (the JSON's `extra`). */
  note?: string;
}

export interface Suite {
  name: string;
  description: string;
  /** Builds the fixtures (outside the timed region) and the tasks. */
  tasks(): BenchTask[] | Promise<BenchTask[]>;
}

export interface SuiteRunOptions {
  /** Time budget per task, ms (tinybench `time`). */
  timeMs: number;
  /** Warm-up budget per task, ms. */
  warmupMs: number;
  signal?: AbortSignal;
}

/**
 * Results land here so no operation's result is unused. Exported so the JIT cannot prove it
 * is never read.
 */
export const sink = { value: 0 };

function fold(result: unknown): void {
  if (typeof result === "number") sink.value ^= result | 0;
  else if (result === null || result === undefined) sink.value ^= 1;
  else if (typeof result === "object" && "length" in result) {
    sink.value ^= (result as { length: number }).length;
  } else sink.value ^= 2;
}

/** Timer reads cost tens of ns; each timed call runs enough operations to last about this long. */
const TARGET_CALL_US = 20;
const MAX_BATCH = 10_000;

/**
 * How many operations one timed call runs, so that a 100 ns operation is not measured mostly as
 * timer overhead: after a short warm-up (the interpreter's first calls are many times slower),
 * the batch doubles until one call lasts TARGET_CALL_US (best of 3, to ignore a preemption).
 */
export function batchSize(op: () => unknown, warmupMs = 3): number {
  const until = performance.now() + warmupMs;
  for (let n = 0; n < 100_000 && performance.now() < until; n++) fold(op());
  let batch = 1;
  while (batch < MAX_BATCH) {
    let best = Number.POSITIVE_INFINITY;
    for (let attempt = 0; attempt < 3; attempt++) {
      const start = performance.now();
      for (let i = 0; i < batch; i++) fold(op());
      best = Math.min(best, performance.now() - start);
    }
    if (best * 1000 >= TARGET_CALL_US) break;
    batch *= 2;
  }
  return Math.min(batch, MAX_BATCH);
}

export interface TaskFigure {
  name: string;
  opsPerSecond: number;
  rmePercent: number;
  samples: number;
  batch: number;
  note?: string;
}

/** A task made ready for timing: its batch size is calibrated once. */
interface Prepared {
  task: BenchTask;
  batch: number;
  fn: () => void;
}

function prepare(task: BenchTask): Prepared {
  const batch = batchSize(task.op);
  const op = task.op;
  return {
    task,
    batch,
    fn: () => {
      for (let i = 0; i < batch; i++) fold(op());
    },
  };
}

/** One tinybench run of one task: ops/s and tinybench's margin, or undefined when aborted early. */
async function measureOnce(
  p: Prepared,
  timeMs: number,
  warmupMs: number,
  signal?: AbortSignal,
): Promise<{ opsPerSecond: number; rmePercent: number; samples: number } | undefined> {
  const bench = new Bench({
    name: p.task.name,
    time: timeMs,
    warmup: warmupMs > 0,
    warmupTime: warmupMs,
    iterations: 16,
    warmupIterations: 4,
    throws: true,
    // removes the constant cost of the two timer reads around each call, which the batching
    // already makes small (<= a few %), so it does not depend on how large the batch came out
    subtractTimerOverhead: true,
    signal,
  });
  bench.add(p.task.name, p.fn);
  await bench.run();
  const result = bench.tasks[0].result;
  if (result.state === "errored") throw result.error;
  // aborted mid-task (Ctrl-C): keep the statistics it has; a task not reached has none
  if (result.state !== "completed" && result.state !== "aborted-with-statistics") return undefined;
  // ops/s from the mean latency (total operations over total time), not the mean of per-sample
  // rates, which small noisy samples bias upwards; the relative margin of error of a mean
  // carries over to its reciprocal (to first order).
  return {
    opsPerSecond: (p.batch * 1000) / result.latency.mean,
    rmePercent: result.latency.rme,
    samples: result.latency.samplesCount,
  };
}

/**
 * The reference is the denominator of every ratio, so it is warmed up for at least this long
 * even in quick mode: cold, it runs several times slower (interpreted, or between JIT tiers)
 * and every ratio would be off by as much.
 */
const REFERENCE_MIN_WARMUP_MS = 150;

/** Interleaved rounds per task: reference, task, reference, task... */
export const ROUNDS = 5;
/** Fewer in quick mode (2 still gives a spread). */
export const QUICK_ROUNDS = 2;

function referenceTask(): BenchTask {
  const state = referenceState();
  return { name: "reference", op: () => referenceOp(state), note: REFERENCE_NAME };
}

/** The reference workload's figure on its own (the end-to-end run's ratio uses it). */
export async function measureReference(options: SuiteRunOptions): Promise<TaskFigure | undefined> {
  const p = prepare(referenceTask());
  const m = await measureOnce(
    p,
    options.timeMs,
    Math.max(options.warmupMs, REFERENCE_MIN_WARMUP_MS),
    options.signal,
  );
  return m && { name: "reference", ...m, batch: p.batch, note: REFERENCE_NAME };
}

/** A task's figure, the reference's over the same rounds, and the per-round ratio. */
export interface PairedFigure {
  task: TaskFigure;
  reference: TaskFigure;
  ratio: { mean: number; rmePercent: number };
}

/**
 * Rounds of one figure: their median (a round disturbed by other work barely moves it), and a
 * margin from their spread that is at least tinybench's own.
 */
function combine(
  rounds: readonly { opsPerSecond: number; rmePercent: number; samples: number }[],
): { opsPerSecond: number; rmePercent: number; samples: number } {
  const { mean, rmePercent } = medianWithMargin(rounds.map((r) => r.opsPerSecond));
  const within = Math.sqrt(rounds.reduce((a, r) => a + r.rmePercent ** 2, 0) / rounds.length);
  return {
    opsPerSecond: mean,
    rmePercent: rounds.length > 1 ? Math.max(rmePercent, within) : within,
    samples: rounds.reduce((a, r) => a + r.samples, 0),
  };
}

/**
 * Runs each task in interleaved rounds with the reference workload (reference, task,
 * reference, task...), each round a share of the time budget. On a machine shared with other
 * work the speed available changes from one second to the next; alternating puts the
 * reference and the task under the same conditions, and the ratio is taken round by round
 * (the figures are the medians over the rounds).
 * The margins of error come from the spread between rounds (Student's t), which is the noise
 * a later run will actually see, not only tinybench's within-run margin.
 */
export async function runSuite(
  suite: Suite,
  options: SuiteRunOptions & { rounds?: number },
): Promise<Measurement[]> {
  const rounds = Math.max(1, options.rounds ?? ROUNDS);
  const sliceMs = Math.max(10, options.timeMs / rounds);
  const tasks = await suite.tasks();
  const reference = prepare(referenceTask());
  let referenceWarm = false;
  const pairs: PairedFigure[] = [];
  for (const task of tasks) {
    const p = prepare(task);
    const taskRounds: { opsPerSecond: number; rmePercent: number; samples: number }[] = [];
    const refRounds: typeof taskRounds = [];
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // tinybench runs synchronous tasks without giving the event loop a turn, so a pending
      // SIGINT/SIGTERM handler only runs here: without this the run could not be interrupted.
      await new Promise((resolve) => setImmediate(resolve));
      if (options.signal?.aborted) break;
      const refWarmup = referenceWarm ? 0 : Math.max(options.warmupMs, REFERENCE_MIN_WARMUP_MS);
      const ref = await measureOnce(reference, sliceMs, refWarmup, options.signal);
      referenceWarm = true;
      const fig = await measureOnce(p, sliceMs, r === 0 ? options.warmupMs : 0, options.signal);
      if (!ref || !fig) break;
      refRounds.push(ref);
      taskRounds.push(fig);
      ratios.push(fig.opsPerSecond / ref.opsPerSecond);
    }
    if (taskRounds.length === 0) break;
    const taskFigure = combine(taskRounds);
    const refFigure = combine(refRounds);
    const ratio = medianWithMargin(ratios);
    // as for the figures: the rounds' spread, but never less than tinybench's margins combined
    // (and only those when a single round has no spread)
    const within = Math.hypot(taskFigure.rmePercent, refFigure.rmePercent);
    pairs.push({
      task: { name: task.name, ...taskFigure, batch: p.batch, note: task.note },
      reference: { name: "reference", ...refFigure, batch: reference.batch, note: REFERENCE_NAME },
      ratio: {
        mean: ratio.mean,
        rmePercent: ratios.length > 1 ? Math.max(ratio.rmePercent, within) : within,
      },
    });
    if (options.signal?.aborted) break;
  }
  return toMeasurements(suite.name, pairs, rounds);
}

/**
 * Absolute ops/s per task, its ratio to the reference (median of the per-round ratios), and the
 * suite's reference figure (the mean over all its rounds; the extra text gives the range of the
 * per-task means, which shows how much the machine's speed moved during the suite).
 */
export function toMeasurements(
  suite: string,
  pairs: readonly PairedFigure[],
  rounds: number,
): Measurement[] {
  const out: Measurement[] = [];
  const extra = (f: TaskFigure) =>
    [f.note, `${f.batch} ops per timed call`, `${rounds} interleaved rounds`].join("; ");
  if (pairs.length > 0) {
    const refs = pairs.map((p) => p.reference);
    const values = refs.map((r) => r.opsPerSecond);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const rme = Math.sqrt(refs.reduce((a, r) => a + r.rmePercent ** 2, 0) / refs.length);
    out.push({
      name: `${suite}/reference`,
      suite,
      unit: "ops/s",
      value: mean,
      rmePercent: rme,
      direction: "bigger",
      kind: "reference",
      samples: refs.reduce((a, r) => a + r.samples, 0),
      extra: `${extra(refs[0])}; alongside ${refs.length} tasks, ${Math.round(Math.min(...values))}..${Math.round(Math.max(...values))}`,
    });
  }
  for (const { task: f, ratio } of pairs) {
    const m: Measurement = {
      name: `${suite}/${f.name}`,
      suite,
      unit: "ops/s",
      value: f.opsPerSecond,
      rmePercent: f.rmePercent,
      direction: "bigger",
      kind: "absolute",
      samples: f.samples,
      extra: extra(f),
    };
    out.push(m);
    out.push({
      name: `${m.name} vs reference`,
      suite,
      unit: "x reference",
      value: ratio.mean,
      rmePercent: ratio.rmePercent,
      direction: "bigger",
      kind: "ratio",
      of: m.name,
      samples: m.samples,
      extra: `${m.unit} / reference ops/s, round by round (${REFERENCE_NAME})`,
    });
  }
  return out;
}
