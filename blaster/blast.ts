/**
 * runBlast: the programmatic API behind `netcons-bench blast`. Validates the options, sets up
 * the run (blaster/blast-setup.ts), runs one piscina worker per shard of hosts (or, with
 * `mainThread`, the only shard on the calling thread), starts them together (at --start-at when
 * given), gathers live totals from shared memory, and combines the shards' results into one
 * report and, when asked, the truth file.
 */
import { randomInt } from "node:crypto";
import { enableCompileCache } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BlastReport } from "./blast-report.ts";
import { type BlastSetup, setUpBlast } from "./blast-setup.ts";
import { sumLatenessRows } from "./lateness-buckets.ts";
import { type BlastOptions, BlastOptionsError, resolveBlastOptions } from "./options.ts";
import { Schedule } from "./schedule.ts";
import {
  CONTROL,
  LIVE_COUNTERS,
  runShard,
  type ShardResult,
  type ShardTask,
  sharedLayout,
  sharedViews,
} from "./shard.ts";
import { reportOfShards, truthHostLines, truthRunLine } from "./shard-results.ts";
import { monotonicUs } from "./stamp.ts";
import { writeTruth } from "./truth.ts";

export type { BlastReport } from "./blast-report.ts";
export { type BlastOptions, BlastOptionsError } from "./options.ts";

export interface BlastProgress {
  elapsedMs: number;
  sent: number;
  errors: number;
  ratePps: number;
  messages: number;
  /**
   * Paced runs: this process's lateness bucket counts since the start (blaster/lateness-buckets.ts;
   * intervalLateness() of two of them gives an interval's percentiles); null unpaced.
   */
  latenessBuckets: Float64Array | null;
}

/** What the run is about to do, once the options are valid and before any traffic. */
export interface BlastStart {
  seed: number;
  /** Wall-clock wait until the common start (ms, > 0 only with a --start-at ahead). */
  waitMs: number;
  /** How late the start is (ms, > 0 only with a --start-at already past). */
  lateMs: number;
  setup: BlastSetup;
}

export interface BlastHooks {
  onProgress?: (p: BlastProgress) => void;
  /** Called once the options are checked and the run set up, before any datagram. */
  onStart?: (start: BlastStart) => void;
  signal?: AbortSignal;
  /** How often onProgress is called (ms, default 250). */
  progressEveryMs?: number;
  /**
   * Send from the calling thread instead of a worker thread (only with workers: 1). Saves the
   * worker's isolate (~10 MB of a million-host run's memory); the caller's event loop then
   * shares its thread with the send loop, which yields to it after every batch. The CLI does
   * this for --workers 1; a caller that runs a receiver in the same process should not.
   */
  mainThread?: boolean;
}

/** How far ahead of the go signal the common start time lies (µs) without --start-at. */
const START_LEAD_US = 20_000;

/**
 * The workers' environment: Node's module compile cache switched on (unless the user switched
 * it off with NODE_DISABLE_COMPILE_CACHE). A worker thread that type-strips its .ts modules
 * itself loads Node's TypeScript stripper (amaro, WebAssembly) into its own isolate, ~17 MB per
 * worker for the whole run; with the cache, which holds the stripped output, it never loads it
 * (from the second run on; the first one fills the cache). The cache lives where Node puts it
 * by default, `$TMPDIR/node-compile-cache`, or in NODE_COMPILE_CACHE.
 */
function workerEnv(): NodeJS.ProcessEnv {
  if (process.env.NODE_DISABLE_COMPILE_CACHE) return process.env;
  const directory = process.env.NODE_COMPILE_CACHE || join(tmpdir(), "node-compile-cache");
  // Also for this thread's later imports; a failure (read-only disk...) only costs the memory.
  enableCompileCache(directory);
  return { ...process.env, NODE_COMPILE_CACHE: directory };
}

/** Monotonic µs of an epoch-ms wall-clock time. */
function monotonicOfWallMs(ms: number): number {
  return monotonicUs() + (ms - (performance.timeOrigin + performance.now())) * 1000;
}

export async function runBlast(
  options: BlastOptions,
  hooks: BlastHooks = {},
): Promise<BlastReport> {
  const resolved = resolveBlastOptions(options);
  if (hooks.mainThread && resolved.workers !== 1)
    throw new BlastOptionsError(
      `sending from the main thread needs workers 1, got ${resolved.workers}`,
    );
  const setup = await setUpBlast({ ...resolved, seed: resolved.seed ?? randomInt(0, 2 ** 32) });
  const o = setup.options;
  const workers = setup.threads.length;
  // One row of live counters per shard of the whole load (thread w of shard I/N is I + N*w).
  const shared = sharedLayout(setup.threads[0].shards);
  const { control, startUs, rows, lateness } = sharedViews(shared);
  const paced = setup.threads.some((t) => new Schedule(t.schedule).paced);
  const stop = () => {
    Atomics.store(control, CONTROL.stop, 1);
    Atomics.notify(control, CONTROL.stop); // wakes a worker sleeping between paced slots
  };
  if (hooks.signal?.aborted) stop();
  hooks.signal?.addEventListener("abort", stop, { once: true });

  const startAtUs = o.startAt === undefined ? null : monotonicOfWallMs(o.startAt);
  const aheadUs = startAtUs === null ? 0 : startAtUs - monotonicUs();
  hooks.onStart?.({
    seed: setup.plan.seed,
    waitMs: Math.max(0, aheadUs / 1000),
    lateMs: Math.max(0, -aheadUs / 1000),
    setup,
  });

  // Piscina itself is loaded only when worker threads are used.
  const pool = hooks.mainThread
    ? null
    : new (await import("piscina")).Piscina({
        filename: new URL("./worker.ts", import.meta.url).href,
        minThreads: workers,
        maxThreads: workers,
        concurrentTasksPerWorker: 1,
        idleTimeout: 60_000,
        env: workerEnv(),
        // The send loop allocates little, but V8 lets a worker's young generation grow to ~8 MB;
        // capping it saves ~4 MB a worker at 4 MB, and even 2 MB made no measurable difference per
        // packet (bench-blast, interleaved runs: 4.10 vs 4.14 CPU µs per packet).
        resourceLimits: { maxYoungGenerationSizeMb: 4 },
      });
  const tasks = setup.threads.map((thread) => {
    const task: ShardTask = { ...thread, shared };
    return pool ? (pool.run(task) as Promise<ShardResult>) : runShard(task);
  });
  // A shard that fails (cannot bind...) must not leave the others waiting for the start.
  const failed = Promise.race(tasks.map((t) => t.then(() => new Promise<never>(() => {}))));
  failed.catch(() => {}); // the failure itself is reported by Promise.all(tasks) below
  const ready = (async () => {
    while (Atomics.load(control, CONTROL.ready) < workers) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  })();
  const rowsOf = setup.threads.map((t) => t.shard);
  let results: ShardResult[];
  let progressTimer: NodeJS.Timeout | undefined;
  let t0 = 0;
  let lateUs = 0;
  try {
    await Promise.race([ready, failed]);
    // Start ahead of now: every worker (polling for the go) is awake and waiting before the
    // first slot, so a loaded machine does not make the first batches late. With --start-at,
    // at that time: the workers wait for it; a start already past makes every paced datagram
    // that late (they keep the common schedule).
    const now = monotonicUs();
    t0 = startAtUs ?? now + START_LEAD_US;
    lateUs = Math.max(0, now - t0);
    startUs[0] = t0;
    Atomics.store(control, CONTROL.go, 1);
    if (hooks.onProgress) {
      let lastSent = 0;
      let lastUs = t0;
      const onProgress = hooks.onProgress;
      progressTimer = setInterval(() => {
        const totals = liveTotals(rows, rowsOf);
        const now = monotonicUs();
        if (now < t0) return;
        const ratePps = now > lastUs ? ((totals.sent - lastSent) * 1e6) / (now - lastUs) : 0;
        lastSent = totals.sent;
        lastUs = now;
        onProgress({
          elapsedMs: Math.max(0, (now - t0) / 1000),
          sent: totals.sent,
          errors: totals.errors,
          ratePps,
          messages: totals.messages,
          latenessBuckets: paced ? sumLatenessRows(lateness, rowsOf) : null,
        });
      }, hooks.progressEveryMs ?? 250);
    }
    results = await Promise.all(tasks);
  } catch (error) {
    stop();
    Atomics.store(control, CONTROL.go, 1);
    await Promise.allSettled(tasks);
    throw error;
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    hooks.signal?.removeEventListener("abort", stop);
    await pool?.destroy();
  }
  const report = await reportOfShards(setup, results, {
    t0Us: t0,
    lateUs,
    mainThread: hooks.mainThread === true,
  });
  if (o.truth) await writeTruth(o.truth, truthRunLine(report, setup), truthHostLines(results));
  return report;
}

/** The live counters of this process's shards (`shards`: their rows), summed. */
function liveTotals(
  rows: Float64Array,
  shards: readonly number[],
): Record<(typeof LIVE_COUNTERS)[number], number> {
  const out = {} as Record<(typeof LIVE_COUNTERS)[number], number>;
  LIVE_COUNTERS.forEach((name, i) => {
    let sum = 0;
    for (const s of shards) sum += rows[s * LIVE_COUNTERS.length + i];
    out[name] = sum;
  });
  return out;
}
