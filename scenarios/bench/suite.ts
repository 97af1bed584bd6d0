/**
 * What a micro-benchmark suite is, and how one is run with tinybench next to the reference
 * workload so that every figure also comes out as a ratio to it.
 */
import { Bench } from "tinybench";
import type { Measurement } from "./format.ts";
import { REFERENCE_NAME, referenceOp, referenceState } from "./reference.ts";

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

/**
 * The reference is the denominator of every ratio, so it gets at least this much warm-up and
 * measuring time even in quick mode: cold, it runs several times slower (interpreted, or
 * between JIT tiers) and every ratio of the suite would be off by as much.
 */
const REFERENCE_MIN_WARMUP_MS = 150;
const REFERENCE_MIN_TIME_MS = 150;

/** The reference workload's figure, measured alone in its own Bench. */
export async function measureReference(options: SuiteRunOptions): Promise<TaskFigure | undefined> {
  const state = referenceState();
  const [figure] = await measureTasks(
    "reference",
    [{ name: "reference", op: () => referenceOp(state), note: REFERENCE_NAME }],
    {
      timeMs: Math.max(options.timeMs, REFERENCE_MIN_TIME_MS),
      warmupMs: Math.max(options.warmupMs, REFERENCE_MIN_WARMUP_MS),
      signal: options.signal,
    },
  );
  return figure;
}

/** A task's figure and the reference measured just before it. */
export interface PairedFigure {
  task: TaskFigure;
  reference: TaskFigure | undefined;
}

/**
 * Runs each task right after its own measurement of the reference workload, so the pair sees
 * the same machine: on a machine shared with other work the speed available changes from one
 * second to the next, and a reference measured once per suite would be out of step with the
 * tasks measured later.
 */
export async function runSuite(suite: Suite, options: SuiteRunOptions): Promise<Measurement[]> {
  const tasks = await suite.tasks();
  const pairs: PairedFigure[] = [];
  for (const task of tasks) {
    // tinybench runs synchronous tasks without giving the event loop a turn, so a pending
    // SIGINT/SIGTERM handler only runs here: without this the run could not be interrupted.
    await new Promise((resolve) => setImmediate(resolve));
    if (options.signal?.aborted) break;
    const reference = await measureReference(options);
    const [figure] = await measureTasks(suite.name, [task], options);
    if (figure) pairs.push({ task: figure, reference });
  }
  return toMeasurements(suite.name, pairs);
}

/** Runs tasks in one tinybench Bench; ops/s and margin of error per task that finished. */
async function measureTasks(
  name: string,
  tasks: readonly BenchTask[],
  options: SuiteRunOptions,
): Promise<TaskFigure[]> {
  const bench = new Bench({
    name,
    time: options.timeMs,
    warmupTime: options.warmupMs,
    iterations: 16,
    warmupIterations: 4,
    throws: true,
    // removes the constant cost of the two timer reads around each call, which the batching
    // already makes small (<= a few %), so it does not depend on how large the batch came out
    subtractTimerOverhead: true,
    signal: options.signal,
  });
  const batches = new Map<string, number>();
  for (const task of tasks) {
    const batch = batchSize(task.op);
    batches.set(task.name, batch);
    const op = task.op;
    bench.add(task.name, () => {
      for (let i = 0; i < batch; i++) fold(op());
    });
  }
  await bench.run();
  const figures: TaskFigure[] = [];
  for (const task of bench.tasks) {
    const result = task.result;
    if (result.state === "errored") throw result.error;
    // aborted mid-task (Ctrl-C): keep the statistics it has; tasks not reached have none
    if (result.state !== "completed" && result.state !== "aborted-with-statistics") continue;
    const batch = batches.get(task.name) ?? 1;
    // ops/s from the mean latency (total operations over total time), not the mean of per-sample
    // rates, which small noisy samples bias upwards; the relative margin of error of a mean
    // carries over to its reciprocal (to first order).
    figures.push({
      name: task.name,
      opsPerSecond: (batch * 1000) / result.latency.mean,
      rmePercent: result.latency.rme,
      samples: result.latency.samplesCount,
      batch,
      note: tasks.find((t) => t.name === task.name)?.note,
    });
  }
  return figures;
}

/**
 * Absolute ops/s per task, the same as a ratio to its paired reference, and the suite's
 * reference figure (the mean of its pairs; the extra text gives their range, which shows how
 * much the machine's speed moved during the suite).
 */
export function toMeasurements(suite: string, pairs: readonly PairedFigure[]): Measurement[] {
  const out: Measurement[] = [];
  const extra = (f: TaskFigure) =>
    [f.note, `${f.batch} ops per timed call`].filter(Boolean).join("; ");
  const refs = pairs.flatMap((p) => (p.reference ? [p.reference] : []));
  if (refs.length > 0) {
    const values = refs.map((r) => r.opsPerSecond);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    // the root mean square of the pairs' margins: a typical pair's margin
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
      extra: `${extra(refs[0])}; mean of ${refs.length} measurements, one before each task, ${Math.round(Math.min(...values))}..${Math.round(Math.max(...values))}`,
    });
  }
  for (const { task: f, reference } of pairs) {
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
    if (reference && reference.opsPerSecond > 0) {
      out.push(ratioMeasurement(m, reference.opsPerSecond, reference.rmePercent));
    }
  }
  return out;
}

/**
 * A figure divided by the reference's ops/s, with both margins of error combined in
 * quadrature (the relative margin of a quotient of independent means).
 */
export function ratioMeasurement(
  m: Measurement,
  referenceOpsPerSecond: number,
  referenceRmePercent: number,
): Measurement {
  return {
    name: `${m.name} vs reference`,
    suite: m.suite,
    unit: "x reference",
    value: m.value / referenceOpsPerSecond,
    rmePercent: Math.hypot(m.rmePercent, referenceRmePercent),
    direction: m.direction,
    kind: "ratio",
    samples: m.samples,
    extra: `${m.unit} / reference ops/s (${REFERENCE_NAME})`,
  };
}
