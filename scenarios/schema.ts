/**
 * The scenario file's schema (zod) and its error messages: every error names the file, the key
 * path and the expected form (`scenarios/x.yaml: plan.grid.workers[1]: expected a positive
 * integer`), as one UsageError (exit code 2). A scenario's `load` is checked by the blaster's own
 * options schema and a receiver target's `options` by the receiver's, so a scenario uses the
 * same keys as the `blast` and `receive` flags.
 */
import { z } from "zod";
import { type BlastOptions, blastOptionsSchema } from "../blaster/options.ts";
import { receiverOptionsSchema } from "../receiver/options.ts";
import { COMMAND_PLACEHOLDERS, placeholdersOf } from "./command-template.ts";
import { parseDurationMs, parseScaled, UsageError } from "./options.ts";
import { DEFAULT_GOALS } from "./search.ts";
import { parseThreshold, ThresholdSyntaxError } from "./thresholds.ts";

/** `10s`, `500ms`, `2m`, or a plain number of seconds -> ms. */
const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const ms = typeof v === "number" ? v * 1000 : parseDurationMs(v);
  if (ms === null || !Number.isFinite(ms) || ms <= 0) {
    ctx.addIssue({ code: "custom", message: "expected a duration such as 500ms, 10s, 2m or 1h" });
    return z.NEVER;
  }
  return Math.round(ms);
});

/** A non-negative number, k/m suffixes allowed in strings (`100k`). */
const scaled = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = typeof v === "number" ? v : parseScaled(v);
  if (n === null || !Number.isFinite(n) || n < 0) {
    ctx.addIssue({
      code: "custom",
      message: "expected a non-negative number such as 5000 or 100k",
    });
    return z.NEVER;
  }
  return n;
});

const positiveInt = z
  .int({ error: "expected a positive integer" })
  .min(1, "expected a positive integer");

const threshold = z
  .string({ error: 'expected a threshold such as "drops.total == 0"' })
  .check((ctx) => {
    try {
      parseThreshold(ctx.value);
    } catch (error) {
      if (!(error instanceof ThresholdSyntaxError)) throw error;
      ctx.issues.push({
        code: "custom",
        input: ctx.value,
        message: `${error.message} in "${ctx.value}" (expected EXPR OP EXPR, e.g. "latencyUs.endToEnd.p99 < 5000")`,
      });
    }
  });

const commonTarget = {
  listeners: positiveInt.default(1),
  workers: positiveInt.default(2),
  /** Where the load is sent (loopback only unless allowed). */
  address: z.string().default("127.0.0.1"),
  /** 0 = pick a free port for every trial. */
  port: z.int().min(0).max(65535, "expected a port from 0 to 65535").default(0),
};

const receiverTarget = z.strictObject({
  kind: z.literal("receiver"),
  ...commonTarget,
  /** startReceiver's settings (the `receive` flags in camelCase); the target sets listeners,
   *  workers and port itself. Kept as written, checked by the receiver's own schema. */
  options: z
    .record(z.string(), z.unknown())
    .default({})
    .check((ctx) => {
      const parsed = targetOptionsSchema.safeParse(ctx.value);
      if (!parsed.success) ctx.issues.push(...nested(parsed.error, ctx.value));
    }),
});

const commandTarget = z
  .strictObject({
    kind: z.literal("command"),
    ...commonTarget,
    command: z.string().min(1, "expected a command line template"),
    cwd: z.string().optional(),
    /** Extra placeholders: vars: { batch: 512 } makes {batch} available. */
    vars: z.record(z.string(), z.union([z.string(), z.number()])).default({}),
    readyTimeout: duration.default(10_000),
    /** Pause between the port being bound and the load (threads still starting, JIT...). */
    warmup: z.union([z.literal(0), duration]).default(1_000),
    stopTimeout: duration.default(5_000),
  })
  .check((ctx) => {
    const known = new Set<string>([...COMMAND_PLACEHOLDERS, ...Object.keys(ctx.value.vars)]);
    for (const name of placeholdersOf(ctx.value.command)) {
      if (!known.has(name)) {
        ctx.issues.push({
          code: "custom",
          input: ctx.value.command,
          path: ["command"],
          message: `unknown placeholder {${name}}; expected one of ${[...known].map((k) => `{${k}}`).join(" ")} (add others under target.vars)`,
        });
      }
    }
  });

export const targetSchema = z.discriminatedUnion("kind", [receiverTarget, commandTarget], {
  error: 'expected target.kind "receiver" or "command"',
});

/** A share from 0 to 1, written 0.005 or "0.5%". */
const probability = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const t = typeof v === "string" ? v.trim() : "";
  const p = typeof v === "number" ? v : t.endsWith("%") ? Number(t.slice(0, -1)) / 100 : Number(t);
  if (!(p >= 0 && p <= 1) || (typeof v === "string" && (t === "%" || t === ""))) {
    ctx.addIssue({ code: "custom", message: "expected a ratio from 0 to 1 (or 0% to 100%)" });
    return z.NEVER;
  }
  return p;
});

/** The runner's default trial duration (the blaster's own default is longer). */
const DEFAULT_LOAD_DURATION_MS = 5_000;

/**
 * The load: the blaster's options (the `blast` flags in camelCase), checked by its schema.
 * `target` and `truth` belong to the runner. What the runner reads is parsed (duration and
 * stormAt in ms, rate in datagrams/s); the rest is kept as written and handed to the blaster.
 */
export const loadSchema = z.record(z.string(), z.unknown()).transform((raw, ctx) => {
  for (const key of ["target", "truth"]) {
    if (Object.hasOwn(raw, key)) {
      ctx.addIssue({
        code: "custom",
        path: [key],
        message: "set by the runner (the target's address and port, the truth file of each trial)",
      });
    }
  }
  const parsed = blastOptionsSchema.safeParse(raw);
  if (!parsed.success) {
    ctx.issues.push(...nested(parsed.error, raw));
    return z.NEVER;
  }
  const o = parsed.data;
  return {
    ...(raw as Omit<BlastOptions, "duration" | "rate" | "stormAt" | "seed" | "hosts">),
    duration: raw.duration === undefined ? DEFAULT_LOAD_DURATION_MS : (o.duration ?? 0),
    rate: raw.rate === undefined ? undefined : o.rate,
    stormAt: o.stormAt,
    seed: o.seed,
    hosts: raw.hosts === undefined ? undefined : o.hosts,
  };
});

const goalName = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_]*$/,
    "expected a name of letters, digits and '_' (thresholds read it as search.NAME)",
  );

/** One search goal (scenarios/search.ts): how much loss, how much evidence, how precise. */
const goalSchema = z.strictObject({
  name: goalName,
  /** A trial is bad for this goal when its loss ratio is above this. */
  lossRatio: probability,
  /** Trials at least this long count fully. */
  finalTrialDuration: duration.default(1_000),
  /** Trial time a load needs before it is judged. */
  durationSum: duration.default(3_000),
  /** Share of that time allowed to be bad (0.5 = median-like; 0 = any loss fails). */
  exceedRatio: probability.refine((p) => p < 1, "expected a ratio below 1").default(0.5),
  /** Done when (upper - lower) / upper is at most this. */
  width: probability.refine((p) => p > 0, "expected a ratio above 0").default(0.05),
});

const defaultGoals = DEFAULT_GOALS.map((g) => ({
  name: g.name,
  lossRatio: g.lossRatio,
  finalTrialDuration: g.finalTrialDurationMs,
  durationSum: g.durationSumMs,
  exceedRatio: g.exceedRatio,
  width: g.width,
}));

/** plan.each.equivalence's default: see the key. */
export const DEFAULT_EQUIVALENCE = 0.2;

const searchSchema = z
  .strictObject({
    kind: z.literal("search"),
    minLoad: scaled.default(1000),
    maxLoad: scaled,
    goals: z
      .array(goalSchema)
      .min(1, "expected at least one goal")
      .default(defaultGoals)
      .check((ctx) => {
        const seen = new Set<string>();
        for (const [i, g] of ctx.value.entries()) {
          if (seen.has(g.name)) {
            ctx.issues.push({
              code: "custom",
              input: g.name,
              path: [i, "name"],
              message: `goal "${g.name}" is named twice`,
            });
          }
          seen.add(g.name);
        }
      }),
    /** Budget per search: trials, and time (start-up and drain of every trial included). */
    maxTrials: positiveInt.default(40),
    timeLimit: duration.default(180_000),
    /** A trial that sent less than (1 - this) of its load counts the shortfall as loss. */
    loadTolerance: probability.default(0.05),
    /**
     * How far apart two configurations' bounds may be and still be called equivalent: one
     * search's bounds are a few % wide, but repeating a whole sweep moves them further (on a
     * quiet 2-vCPU machine, 15-20% between runs for the two-listener points). A point whose
     * upper bound reaches (1 - this) of the best point's lower bound is in the best group.
     */
    equivalence: probability.default(DEFAULT_EQUIVALENCE),
  })
  .check((ctx) => {
    if (!(ctx.value.minLoad > 0 && ctx.value.maxLoad >= ctx.value.minLoad)) {
      ctx.issues.push({
        code: "custom",
        input: ctx.value.maxLoad,
        path: ["maxLoad"],
        message: `expected 0 < minLoad <= maxLoad (got ${ctx.value.minLoad} and ${ctx.value.maxLoad})`,
      });
    }
  });

const onceSchema = z.strictObject({
  kind: z.literal("once"),
  /** Run the same trial this many times (a table row each). */
  repeat: positiveInt.default(1),
});

/** What a sweep or compare runs at each point. */
const eachSchema = z.discriminatedUnion("kind", [onceSchema, searchSchema], {
  error: 'expected kind "once" or "search"',
});

const gridValue = z
  .array(z.union([z.number(), z.string(), z.boolean()]), {
    error: "expected a list of values",
  })
  .min(1, "expected at least one value");

const sweepSchema = z.strictObject({
  kind: z.literal("sweep"),
  /** Keys are scenario paths (`load.hosts`); `listeners`/`workers` mean target.listeners/workers. */
  grid: z
    .record(z.string(), gridValue)
    .refine((g) => Object.keys(g).length > 0, "expected at least one key"),
  each: eachSchema.default({ kind: "once", repeat: 1 }),
});

const soakSchema = z.strictObject({
  kind: z.literal("soak"),
  /** Overrides load.duration. */
  duration: duration,
  sampleEvery: duration.default(1_000),
});

const targetOverride = z.record(z.string(), z.unknown());

const compareSchema = z.strictObject({
  kind: z.literal("compare"),
  /** Overrides merged onto `target` for the baseline (A) and the candidate (B). */
  baseline: targetOverride,
  candidate: targetOverride,
  /** Number of A B pairs. */
  rounds: positiveInt.default(2),
  each: eachSchema.default({ kind: "once", repeat: 1 }),
  tolerance: z.number().min(0).max(1).default(0.1),
  lossTolerance: z.number().min(0).max(1).default(0),
});

export const planSchema = z.discriminatedUnion(
  "kind",
  [onceSchema, sweepSchema, searchSchema, soakSchema, compareSchema],
  { error: 'expected plan.kind one of "once", "sweep", "search", "soak", "compare"' },
);

export const scenarioSchema = z.strictObject({
  name: z.string().regex(/^[\w.-]+$/, "expected a name of letters, digits, '.', '_' or '-'"),
  description: z.string().default(""),
  target: targetSchema,
  load: loadSchema.prefault({}),
  plan: planSchema.default({ kind: "once", repeat: 1 }),
  /** Wait after the load before the final reading (lets queues drain). */
  settle: duration.default(500),
  thresholds: z.array(threshold).default([]),
});

export type Scenario = z.infer<typeof scenarioSchema>;
export type Target = z.infer<typeof targetSchema>;
export type Plan = z.infer<typeof planSchema>;
export type EachPlan = z.infer<typeof eachSchema>;
export type SearchPlan = z.infer<typeof searchSchema>;

/** The receiver's options a scenario may set (listeners, workers and port are the target's). */
const targetOptionsSchema = receiverOptionsSchema.omit({
  listeners: true,
  workers: true,
  port: true,
});

/** zod issues of a nested schema, with paths relative to where it was applied. */
function nested(error: z.ZodError, input: unknown): z.core.$ZodRawIssue[] {
  return error.issues.map((issue) => ({ ...issue, input }) as z.core.$ZodRawIssue);
}

/** `a.b[2].c` for a zod issue path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out === "" ? "(top level)" : out;
}

/** Validates a plain object as a scenario; issues become one UsageError naming `source`. */
export function validateScenario(raw: unknown, source: string): Scenario {
  const parsed = scenarioSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const target = (raw as { target?: { kind?: unknown } } | null)?.target;
  const lines = parsed.error.issues.map((issue) => {
    // The blaster's and the receiver's schemas name other keys as {key}: here they are
    // load.key or target.options.key.
    const owner =
      issue.path[0] === "target" && issue.path[1] === "options"
        ? "target.options"
        : issue.path[0] === "load"
          ? "load"
          : null;
    const text =
      owner === null
        ? issueMessage(issue)
        : issueMessage(issue).replace(/\{(\w+)\}/g, (_, key: string) => `${owner}.${key}`);
    let message = `${source}: ${formatPath(issue.path)}: ${text}`;
    // The usual way to meet this: a bundled receiver scenario pointed at a command by --set.
    if (
      target?.kind === "command" &&
      issue.code === "unrecognized_keys" &&
      issue.path.length === 1 &&
      issue.path[0] === "target" &&
      issue.keys.includes("options")
    ) {
      message += ` (target.options are our receiver's settings; for kind: command remove them with --set target.options=null)`;
    }
    return message;
  });
  throw new UsageError(lines.join("\n"));
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") {
    return `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  }
  return issue.message;
}
