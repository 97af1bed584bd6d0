/**
 * The benchmark result format: one flat list of measurements, written out
 *  - as the arrays the "benchmark action" CI integrations read (github-action-benchmark's
 *    `customBiggerIsBetter` / `customSmallerIsBetter`: a list of {name, unit, value, range, extra}),
 *  - as a baseline file (`--save`) that keeps what the comparison needs (margin of error,
 *    direction, kind) plus the environment, so `--baseline` can tell a same-machine comparison
 *    from a cross-machine one.
 * Pure: no clocks, no files (the command does the I/O).
 */
import { z } from "zod";

/** Which way is better. */
export type Direction = "bigger" | "smaller";

/**
 * - absolute: a figure in its own unit (ops/s, msgs/s, lost messages): gate on it on the same machine;
 * - ratio: the same figure divided by the reference workload's ops/s measured in the same
 *   process: machine-independent, gate on it across machines;
 * - reference: the reference workload itself (shows how fast this machine was; never gated).
 */
export type Kind = "absolute" | "ratio" | "reference";

export interface Measurement {
  /** Unique, stable across runs: "<suite>/<task>" (a ratio adds " vs reference"). */
  name: string;
  suite: string;
  unit: string;
  value: number;
  /** Relative margin of error, percent (95% confidence, tinybench's `rme`); 0 for exact counts. */
  rmePercent: number;
  direction: Direction;
  kind: Kind;
  /** How many samples the figure rests on (tinybench samples, or repeated end-to-end runs). */
  samples: number;
  /** Free text for people (shown by the CI integrations as a tooltip). */
  extra?: string;
  /**
   * A correctness figure (lost messages): gated whichever figures the gate picks, since it
   * does not depend on the machine's speed.
   */
  always?: boolean;
  /** For a ratio: the name of the absolute figure it is the ratio of. */
  of?: string;
}

/** One entry of github-action-benchmark's custom formats. */
export interface ActionEntry {
  name: string;
  unit: string;
  value: number;
  range: string;
  extra?: string;
}

/** The entries of one direction, as github-action-benchmark reads them. */
export function toActionFormat(measurements: readonly Measurement[], direction: Direction) {
  const out: ActionEntry[] = [];
  for (const m of measurements) {
    if (m.direction !== direction) continue;
    const entry: ActionEntry = {
      name: m.name,
      unit: m.unit,
      value: m.value,
      range: `±${m.rmePercent.toFixed(2)}%`,
    };
    const extra = [m.extra, `${m.samples} samples`, `kind ${m.kind}`].filter(Boolean).join("; ");
    entry.extra = extra;
    out.push(entry);
  }
  return out;
}

/** What makes two runs comparable in absolute terms. */
export interface Environment {
  node: string;
  platform: string;
  arch: string;
  cpuModel: string;
  cpus: number;
}

export function sameMachine(a: Environment, b: Environment): boolean {
  return (
    a.node === b.node &&
    a.platform === b.platform &&
    a.arch === b.arch &&
    a.cpuModel === b.cpuModel &&
    a.cpus === b.cpus
  );
}

export const BASELINE_FORMAT = "netcons-bench/bench-baseline@1";

export interface Baseline {
  format: typeof BASELINE_FORMAT;
  savedAt: string;
  environment: Environment;
  /** The options the run used (quick mode, time per task...), for the reader's information. */
  settings: Record<string, unknown>;
  measurements: Measurement[];
}

const measurementSchema = z.object({
  name: z.string().min(1),
  suite: z.string(),
  unit: z.string(),
  value: z.number().finite().nonnegative(),
  rmePercent: z.number().nonnegative(),
  direction: z.enum(["bigger", "smaller"]),
  kind: z.enum(["absolute", "ratio", "reference"]),
  samples: z.number().int().nonnegative(),
  extra: z.string().optional(),
  always: z.boolean().optional(),
  of: z.string().optional(),
});

const baselineSchema = z.object({
  format: z.literal(BASELINE_FORMAT),
  savedAt: z.string(),
  environment: z.object({
    node: z.string(),
    platform: z.string(),
    arch: z.string(),
    cpuModel: z.string(),
    cpus: z.number().int(),
  }),
  settings: z.record(z.string(), z.unknown()),
  measurements: z.array(measurementSchema),
});

/**
 * Parses a baseline file's text. Throws an Error whose message says what is wrong (the
 * command turns it into a one-line usage error naming the file).
 */
export function parseBaseline(text: string): Baseline {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(`not JSON (${(error as Error).message})`);
  }
  const parsed = baselineSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.length > 0 ? ` at ${issue.path.join(".")}` : "";
    throw new Error(
      `not a netcons-bench baseline (${BASELINE_FORMAT}, written by --save): ${issue.message}${where}`,
    );
  }
  return parsed.data as Baseline;
}
