/**
 * The scenario file: YAML, validated with zod. Every error names the file, the key path and the
 * expected form (`scenarios/x.yaml: plan.grid.workers[1]: expected a positive integer`), and
 * the CLI turns it into exit code 2.
 *
 * `--set key=value` overrides are applied to the parsed YAML before validation, so they are
 * checked exactly like the file (the value is read as YAML: `--set load.hosts=[1,2]` works).
 */
import { readFileSync } from "node:fs";
import { parseDocument, parse as parseYamlValue } from "yaml";
import { z } from "zod";
import { placeholdersOf } from "./external.ts";
import { parseDurationMs, parseScaled, UsageError } from "./options.ts";
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

/** Placeholders a command template may use besides target.vars. */
export const BUILTIN_PLACEHOLDERS = [
  "listeners",
  "workers",
  "port",
  "address",
  "node",
  "cli",
  "out",
];

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
  /** Passed to startReceiver as they are (see the receiver's README section). */
  options: z.record(z.string(), z.unknown()).default({}),
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
    const known = new Set([...BUILTIN_PLACEHOLDERS, ...Object.keys(ctx.value.vars)]);
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

const probability = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const t = typeof v === "string" ? v.trim() : "";
  const p = typeof v === "number" ? v : t.endsWith("%") ? Number(t.slice(0, -1)) / 100 : Number(t);
  if (!(p >= 0 && p <= 1) || t === "%") {
    ctx.addIssue({ code: "custom", message: "expected a probability from 0 to 1 (or 0% to 100%)" });
    return z.NEVER;
  }
  return p;
});

/** `200` (fixed), `"100-900"` (uniform range), `"realistic"` (the corpus's own lengths). */
const size = z.union([z.number(), z.string()]).transform((v, ctx) => {
  if (typeof v === "number" && Number.isInteger(v) && v >= 1)
    return { kind: "fixed" as const, bytes: v };
  if (v === "realistic") return { kind: "realistic" as const };
  const m = typeof v === "string" ? /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(v) : null;
  if (m) {
    return m[2] === undefined
      ? { kind: "fixed" as const, bytes: Number(m[1]) }
      : { kind: "range" as const, min: Number(m[1]), max: Number(m[2]) };
  }
  ctx.addIssue({
    code: "custom",
    message: 'expected a size: bytes (200), a range ("100-900") or "realistic"',
  });
  return z.NEVER;
});

/**
 * The load: the blaster's settings (BlastOptions in blaster/blast.ts, the same names as
 * `netcons-bench blast` flags in camelCase). `duration` and `rate` are the runner's (trials
 * and searches override them); the blaster checks the values' ranges itself.
 */
export const loadSchema = z.strictObject({
  duration: duration.default(5_000),
  /** Datagrams per second, all blaster workers together (0 = as fast as possible). */
  rate: scaled.optional(),
  hosts: positiveInt.optional(),
  workers: positiveInt.optional(),
  seed: z.int().min(0, "expected a seed from 0 to 4294967295").max(4294967295).optional(),
  format: z
    .enum(["extended", "legacy", "mixed"], { error: 'expected "extended", "legacy" or "mixed"' })
    .optional(),
  size: size.optional(),
  loss: probability.optional(),
  reorder: probability.optional(),
  reorderDepth: positiveInt.optional(),
  duplicate: probability.optional(),
  /** Share of hosts that panic at once, and when (ms after the start, or a duration). */
  storm: probability.optional(),
  stormAt: duration.optional(),
  ramp: z.tuple([scaled, scaled], { error: "expected [FROM, TO] in datagrams/s" }).optional(),
  burst: positiveInt.optional(),
  count: z.int().min(0).optional(),
  stamp: z.boolean().optional(),
  releasePrefix: z.boolean().optional(),
  caller: z.boolean().optional(),
  sysdata: z.record(z.string(), z.boolean()).optional(),
  userdata: z.array(z.tuple([z.string(), z.string()])).optional(),
  startSeq: z.union([z.int().min(0), z.literal("random")]).optional(),
  sources: z.string().optional(),
  transport: z.string().optional(),
  batch: positiveInt.optional(),
  allowRemote: z.boolean().optional(),
});

const searchSchema = z.strictObject({
  kind: z.literal("zero-loss-search"),
  lowPps: scaled.default(1000),
  highPps: scaled,
  resolutionPps: scaled.default(1000),
  trialDuration: duration.default(5_000),
  maxTrials: positiveInt.default(12),
  /** What "no loss" means: all must hold for a trial to pass (threshold syntax). */
  passIf: z
    .array(threshold)
    .default(["loss.packets == 0", "rate.achievedPps >= 0.95 * rate.targetPps"]),
});

const onceSchema = z.strictObject({
  kind: z.literal("once"),
  /** Run the same trial this many times (a table row each). */
  repeat: positiveInt.default(1),
});

/** What a sweep or compare runs at each point. */
const eachSchema = z.discriminatedUnion("kind", [onceSchema, searchSchema], {
  error: 'expected kind "once" or "zero-loss-search"',
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
  { error: 'expected plan.kind one of "once", "sweep", "zero-loss-search", "soak", "compare"' },
);

export const scenarioSchema = z.strictObject({
  name: z.string().regex(/^[\w.-]+$/, "expected a name of letters, digits, '.', '_' or '-'"),
  description: z.string().default(""),
  target: targetSchema,
  load: loadSchema.default({ duration: 5_000 }),
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

/** `a.b[2].c` for a zod issue path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out === "" ? "(top level)" : out;
}

/** Grid shorthands. */
export function gridPath(key: string): string {
  return key === "listeners" || key === "workers" ? `target.${key}` : key;
}

/**
 * Sets `path` (dotted) in a plain object tree, creating objects on the way. A null value (YAML
 * `null` or `~`) removes the key instead: `--set target.options=null` drops a receiver's options
 * when a bundled scenario is pointed at a command.
 */
export function setPath(root: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split(".");
  if (keys.some((k) => k === "")) throw new Error(`"${path}" is not a dotted key path`);
  let at: Record<string, unknown> = root;
  for (let i = 0; i < keys.length - 1; i++) {
    // A key that itself holds dots (a sweep grid's `load.hosts`) is matched whole.
    const rest = keys.slice(i).join(".");
    if (Object.hasOwn(at, rest)) {
      if (value === null) delete at[rest];
      else at[rest] = value;
      return;
    }
    const key = keys[i];
    const next = at[key];
    if (next === undefined || next === null) {
      if (value === null) return; // nothing there to remove
      at[key] = {};
    } else if (typeof next !== "object" || Array.isArray(next)) {
      throw new Error(
        `cannot set "${path}": "${key}" holds ${JSON.stringify(next)}, not a mapping`,
      );
    }
    at = at[key] as Record<string, unknown>;
  }
  if (value === null) delete at[keys[keys.length - 1]];
  else at[keys[keys.length - 1]] = value;
}

/** Validates a plain object as a scenario; issues become one UsageError naming `source`. */
export function validateScenario(raw: unknown, source: string): Scenario {
  const parsed = scenarioSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const target = (raw as { target?: { kind?: unknown } } | null)?.target;
  const lines = parsed.error.issues.map((issue) => {
    let message = `${source}: ${formatPath(issue.path)}: ${issueMessage(issue)}`;
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

/** Parses `key=value` from --set (the value read as YAML). */
export function parseSet(assignment: string): { path: string; value: unknown } {
  const eq = assignment.indexOf("=");
  if (eq <= 0)
    throw new UsageError(`--set "${assignment}": expected key=value, e.g. load.rate=20000`);
  const path = assignment.slice(0, eq).trim();
  const text = assignment.slice(eq + 1);
  let value: unknown;
  try {
    value = text === "" ? "" : parseYamlValue(text);
  } catch {
    value = text;
  }
  return { path, value };
}

export interface LoadedScenario {
  scenario: Scenario;
  /** The file after --set overrides, before defaults: what the sweep points are built from. */
  raw: Record<string, unknown>;
  file: string;
}

/** Reads, parses, overrides and validates a scenario file. Throws UsageError on any mistake. */
export function loadScenario(file: string, sets: readonly string[] = []): LoadedScenario {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new UsageError(
      `${file}: cannot read the scenario file (${(error as NodeJS.ErrnoException).code ?? error})`,
    );
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = e.linePos?.[0];
    throw new UsageError(
      `${file}${pos ? `:${pos.line}:${pos.col}` : ""}: not valid YAML: ${e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")}`,
    );
  }
  const raw = doc.toJS() as unknown;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new UsageError(
      `${file}: expected a YAML mapping with name, target, load, plan, thresholds`,
    );
  }
  const root = raw as Record<string, unknown>;
  for (const assignment of sets) {
    const { path, value } = parseSet(assignment);
    try {
      setPath(root, path, value);
    } catch (error) {
      throw new UsageError(`--set ${assignment}: ${(error as Error).message}`);
    }
  }
  const scenario = validateScenario(
    structuredClone(root),
    sets.length > 0 ? `${file} (with --set)` : file,
  );
  // Every sweep point must itself be a valid scenario: check them all now, not mid-run.
  if (scenario.plan.kind === "sweep") {
    for (const point of gridPoints(scenario.plan.grid)) pointScenario(root, point, file);
  }
  if (scenario.plan.kind === "compare") {
    for (const side of ["baseline", "candidate"] as const) sideScenario(root, side, file);
  }
  return { scenario, raw: root, file };
}

/** Every combination of the grid's values, in file order (the last key varies fastest). */
export function gridPoints(grid: Record<string, readonly unknown[]>): Record<string, unknown>[] {
  let points: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(grid)) {
    const next: Record<string, unknown>[] = [];
    for (const p of points) for (const v of values) next.push({ ...p, [key]: v });
    points = next;
  }
  return points;
}

/** The scenario at one sweep point (grid values set into a copy of the raw file). */
export function pointScenario(
  raw: Record<string, unknown>,
  point: Record<string, unknown>,
  file: string,
): Scenario {
  const copy = structuredClone(raw);
  for (const [key, value] of Object.entries(point)) setPath(copy, gridPath(key), value);
  const label = Object.entries(point)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  return validateScenario(copy, `${file} (sweep point ${label})`);
}

/** The scenario for the baseline or candidate side of a compare plan. */
export function sideScenario(
  raw: Record<string, unknown>,
  side: "baseline" | "candidate",
  file: string,
): Scenario {
  const copy = structuredClone(raw);
  const plan = copy.plan as Record<string, unknown>;
  const override = (plan[side] ?? {}) as Record<string, unknown>;
  copy.target = { ...(copy.target as Record<string, unknown>), ...override };
  return validateScenario(copy, `${file} (plan.${side})`);
}
