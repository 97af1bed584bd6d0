/**
 * The programmatic benchmark API: runs the selected micro-benchmark suites (each next to the
 * reference workload) and, unless skipped, the end-to-end loopback run; returns the
 * measurements. `netcons-bench bench` is a thin layer over this.
 */
import os from "node:os";
import type { Environment, Measurement } from "./format.ts";
import { runSuite, type Suite } from "./suite.ts";
import { SUITES } from "./suites/index.ts";

export interface RunBenchOptions {
  /** Suite names to run (exact names); all when absent. */
  suites?: readonly string[];
  /** Time budget per task, ms. */
  timeMs: number;
  /** Warm-up budget per task, ms. */
  warmupMs: number;
  /** Interleaved reference/task rounds per task (the time budget is shared among them). */
  rounds: number;
  signal?: AbortSignal;
  /** Called as each suite starts and ends (the command shows it on a TTY). */
  onProgress?: (event: {
    suite: string;
    phase: "start" | "done";
    index: number;
    of: number;
  }) => void;
}

export interface BenchRun {
  environment: Environment;
  measurements: Measurement[];
  /** True when the signal stopped the run early (the measurements so far are kept). */
  aborted: boolean;
}

export function environment(): Environment {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cpus: cpus.length,
  };
}

/** Every suite name, in run order (for --list and for --filter errors). */
export function suiteNames(): string[] {
  return SUITES.map((s) => s.name);
}

export function suiteList(): readonly Pick<Suite, "name" | "description">[] {
  return SUITES;
}

/**
 * Suites whose name contains any of the words (case-insensitive). Returns the unmatched words
 * too, so the command can name them.
 */
export function selectSuites(
  words: readonly string[],
  names: readonly string[],
): { selected: string[]; unmatched: string[] } {
  const lowered = words.map((w) => w.trim().toLowerCase()).filter((w) => w.length > 0);
  const selected = names.filter((n) => lowered.some((w) => n.toLowerCase().includes(w)));
  const unmatched = lowered.filter((w) => !names.some((n) => n.toLowerCase().includes(w)));
  return { selected, unmatched };
}

export async function runMicroBenchmarks(options: RunBenchOptions): Promise<BenchRun> {
  const wanted = options.suites ? new Set(options.suites) : undefined;
  const suites = SUITES.filter((s) => !wanted || wanted.has(s.name));
  const measurements: Measurement[] = [];
  let aborted = false;
  for (let i = 0; i < suites.length; i++) {
    if (options.signal?.aborted) {
      aborted = true;
      break;
    }
    const suite = suites[i];
    options.onProgress?.({ suite: suite.name, phase: "start", index: i, of: suites.length });
    measurements.push(
      ...(await runSuite(suite, {
        timeMs: options.timeMs,
        warmupMs: options.warmupMs,
        rounds: options.rounds,
        signal: options.signal,
      })),
    );
    options.onProgress?.({ suite: suite.name, phase: "done", index: i, of: suites.length });
  }
  if (options.signal?.aborted) aborted = true;
  return { environment: environment(), measurements, aborted };
}
