/**
 * What a trial needs from its target, whichever kind it is (our receiver in this process, or a
 * command measured from outside): the Target interface, what it starts from, and the part of
 * the trial's figures each target fills in (loss, drops, resources, latency, ledger).
 */
import type { BlastOptions, BlastReport } from "../blaster/blast.ts";
import type { LedgerLine } from "../receiver/ledger.ts";
import type { Sample, TrialFigures } from "./results.ts";
import type { Scenario } from "./schema.ts";

export interface TargetContext {
  scenario: Scenario;
  /** The trial's log file; the target's other files are named after it (`X.log` -> `X.*`). */
  logFile: string;
  /** The scenario file's directory: a command's program may be named relative to it. */
  scenarioDir?: string;
}

/** One reading of the target for the trial's time series. */
export interface TargetReading {
  /** Datagrams per second taken in since the last reading, when the target says. */
  receivedPps: number | null;
  /** Drops so far in this trial (kernel socket + receiver queue). */
  drops: number;
  /** The target's RSS; null when it cannot be read (the figure is then this process's). */
  rssBytes: number | null;
}

/** What a target's figures are computed from besides the target itself. */
export interface FigureInputs {
  blast: BlastReport;
  /** Simulated hosts of the load. */
  hosts: number;
  samples: Sample[];
  /** This process's RSS before the target started. */
  rssStart: number;
  /** CPU time of this process during the trial (blaster included). */
  cpuMs: number;
}

/** The target's part of a trial's figures. */
export type TargetFigures = Pick<
  TrialFigures,
  | "loss"
  | "drops"
  | "target"
  | "ledger"
  | "latencyUs"
  | "packets"
  | "messages"
  | "sequence"
  | "hosts"
  | "receiver"
  | "external"
> & {
  /** Datagrams the target took in (for the delivered rate). */
  deliveredPackets: number;
  /** Why the trial fails whatever its thresholds say (the target died, was killed...). */
  error?: string;
};

export interface Target {
  readonly kind: TrialFigures["targetKind"];
  /** The UDP port the load goes to (at the scenario's target.address). */
  readonly port: number;
  /** What this target adds to the blaster's options (our receiver: the truth file). */
  readonly blastOptions: Partial<BlastOptions>;
  sample(): TargetReading;
  /** Takes the final readings and stops the target; `blast` is undefined when the load failed. */
  stop(blast: BlastReport | undefined, aborted: boolean): Promise<void>;
  /** The target's part of the figures (after stop). */
  figures(inputs: FigureInputs): TargetFigures;
}

/** A ledger as the figures carry it: balanced (1/0) when every `unexplained` part is 0. */
export function ledgerFigures(
  lines: LedgerLine[],
  unexplained: readonly number[],
): NonNullable<TrialFigures["ledger"]> {
  return {
    balanced: unexplained.every((u) => u === 0) ? 1 : 0,
    unexplained: unexplained.reduce((sum, u) => sum + Math.abs(u), 0),
    lines,
  };
}

/** Only the numeric fields of a report block (for thresholds). */
export function numbers(value: unknown): Record<string, number> | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === "number") out[k] = v;
  return out;
}
