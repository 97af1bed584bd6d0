/**
 * results.json: its schema (zod), the types the runner writes and the reports read, and the one
 * reader of a results.json file. The runner (runner.ts) is the one writer.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import type { CompareVerdict } from "./compare.ts";

const counts = z.record(z.string(), z.number());

/** One sample of a trial's time series (all trials share one timeline: ms since the run began). */
export const sampleSchema = z.object({
  tMs: z.number().describe("ms since the run started"),
  trial: z.number(),
  sentPps: z.number().describe("send rate over the last interval, from the blaster's progress"),
  receivedPps: z
    .number()
    .nullable()
    .describe("datagrams the target took in over the last interval, when it says"),
  drops: z.number().describe("drops so far in this trial (kernel socket + receiver queue)"),
  rssBytes: z.number().describe("RSS of the target"),
});

/** Every figure of one trial; thresholds are evaluated over this object. */
export const trialFiguresSchema = z.object({
  trial: z.number(),
  label: z.string(),
  point: z.record(z.string(), z.unknown()),
  side: z.enum(["A", "B"]).optional(),
  targetKind: z.enum(["receiver", "command"]),
  startedAt: z.string(),
  durationMs: z.number(),
  interrupted: z.boolean(),
  error: z.string().optional(),
  rate: z.object({ targetPps: z.number(), achievedPps: z.number(), deliveredPps: z.number() }),
  sent: z.object({ messages: z.number(), packets: z.number(), packetsOnWire: z.number() }),
  loss: z.object({ packets: z.number(), ratio: z.number(), source: z.string() }),
  drops: z.object({
    total: z.number(),
    kernel: z.number(),
    queue: z.number(),
    rcvbufErrorsSystemWide: z.number().optional(),
  }),
  latencyUs: z.record(z.string(), counts).optional(),
  injected: counts.optional(),
  expected: counts.optional(),
  packets: counts.optional(),
  messages: counts.optional(),
  sequence: counts.optional(),
  hosts: z.number().optional(),
  ledger: z
    .object({ balanced: z.number(), unexplained: z.number(), lines: z.unknown() })
    .optional(),
  target: z.object({
    cpuMs: z.number(),
    rssIdleBytes: z.number(),
    rssPeakBytes: z.number(),
    rssFinalBytes: z.number(),
    memoryPerHostBytes: z.number(),
    netconsd: z
      .object({
        processed: z.number(),
        hosts: z.number(),
        hostsSent: z.number(),
        unaccounted: z.number(),
        unexplained: z.number(),
      })
      .optional(),
    exitCode: z.number().nullable().optional(),
    exitSignal: z.string().nullable().optional(),
    logFile: z.string().optional(),
    outputTail: z.string().optional(),
  }),
  /** The reports as the blaster and the target gave them. */
  blast: z.unknown(),
  receiver: z.unknown().optional(),
  external: z.unknown().optional(),
});

/** One goal's outcome in a point's search (see search.ts). */
export const goalOutcomeSchema = z.object({
  name: z.string(),
  lossRatio: z.number(),
  finalTrialDurationMs: z.number(),
  durationSumMs: z.number(),
  exceedRatio: z.number(),
  width: z.number(),
  status: z.enum(["found", "max-load", "below-min-load", "resolution", "inconclusive"]),
  conclusive: z.boolean(),
  lowerBoundPps: z.number().nullable(),
  upperBoundPps: z.number().nullable(),
  conditionalThroughputPps: z.number().nullable(),
  relativeWidth: z.number().nullable(),
  trialsAtLowerBound: z.number(),
  trialsAtUpperBound: z.number(),
});

export const searchStepSchema = z.object({
  trial: z.number(),
  goal: z.string(),
  loadPps: z.number(),
  durationMs: z.number(),
  /** The loss ratio the search judged (the target's, or the shortfall of the offered load). */
  lossRatio: z.number(),
  elapsedMs: z.number(),
});

const thresholdOutcomeSchema = z.object({
  threshold: z.string(),
  pass: z.boolean(),
  left: z.number().optional(),
  right: z.number().optional(),
  by: z.number().optional(),
  byRatio: z.number().optional(),
  message: z.string(),
});

/** A point of a plan: one once-trial (or repeats), one search, one soak, one compare side run. */
export const pointResultSchema = z.object({
  label: z.string(),
  point: z.record(z.string(), z.unknown()),
  side: z.enum(["A", "B"]).optional(),
  kind: z.enum(["once", "search", "soak"]),
  trials: z.array(z.number()),
  /** The trial that stands for this point (the last repeat; a search's last at its lower bound). */
  bestTrial: z.number().nullable(),
  search: z
    .object({
      minLoadPps: z.number(),
      maxLoadPps: z.number(),
      stoppedBy: z.enum(["complete", "max-trials", "time-limit", "aborted"]),
      /** Every goal concluded. */
      conclusive: z.boolean(),
      goals: z.array(goalOutcomeSchema),
      steps: z.array(searchStepSchema),
      elapsedMs: z.number(),
    })
    .optional(),
  thresholds: z.array(thresholdOutcomeSchema),
});

export const resultsSchema = z.object({
  tool: z.literal("netcons-bench"),
  version: z.string(),
  /** "running" while trials are still being written (a file left so was cut off by a crash). */
  status: z.enum(["running", "complete", "interrupted", "failed"]),
  error: z.string().optional(),
  scenario: z.object({
    name: z.string(),
    file: z.string(),
    description: z.string(),
    definition: z.unknown(),
    sets: z.array(z.string()),
  }),
  environment: z.object({
    cpus: z.number(),
    cpuModel: z.string(),
    kernel: z.string(),
    node: z.string(),
    platform: z.string(),
    seed: z.number().nullable(),
    startedAt: z.string(),
    finishedAt: z.string().nullable(),
    /** /proc/loadavg's 1, 5 and 15 minute figures at the start and at the end of the run. */
    loadAverageStart: z.array(z.number()),
    loadAverageEnd: z.array(z.number()).nullable(),
    /** Share of all CPU time (0..1) other processes took during the run; null if unknown. */
    otherCpuShare: z.number().nullable(),
  }),
  plan: z.string(),
  trials: z.array(trialFiguresSchema),
  points: z.array(pointResultSchema),
  samples: z.array(sampleSchema),
  compare: z.custom<CompareVerdict>((v) => typeof v === "object" && v !== null).optional(),
  /** Run-level figures the thresholds may use besides each point's (compare.*, soak.*, fit.*). */
  summary: z.record(z.string(), z.unknown()),
  runThresholds: z.array(thresholdOutcomeSchema),
  passed: z.boolean(),
  failedThresholds: z.array(z.string()),
  recommendation: z.string(),
});

export type Sample = z.infer<typeof sampleSchema>;
export type TrialFigures = z.infer<typeof trialFiguresSchema>;
export type GoalOutcome = z.infer<typeof goalOutcomeSchema>;
export type SearchStep = z.infer<typeof searchStepSchema>;
export type PointResult = z.infer<typeof pointResultSchema>;
export type Results = z.infer<typeof resultsSchema>;

/** Reads and checks a results.json; a file that is not one is an Error naming it. */
export function readResults(file: string): Results {
  const parsed = resultsSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `${file}: not a results.json of this version: ${issue.path.join(".")}: ${issue.message}`,
    );
  }
  return parsed.data;
}
