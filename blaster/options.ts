/**
 * The blaster's options, defined once: names (the camelCase of the `blast` command's long
 * flags), accepted forms, ranges, defaults and help text. runBlast validates through it, the
 * `blast` command builds its flags from it, and a scenario's `load` is checked against it.
 *
 * Every value may be given as the text its flag takes (`"20k"`, `"1%"`, `"200-1400"`, `"10s"`),
 * so a flag, an API call and a scenario file accept the same forms. Durations are strings with
 * a unit or plain numbers of seconds, as everywhere else in the toolkit.
 */
import { z } from "zod";
import type { SizeSpec, SysdataFields } from "./content.ts";
import {
  choice,
  decimal,
  definedOnly,
  duration,
  flag,
  flagOf,
  formatIssues,
  integer,
  probability,
} from "./option-values.ts";
import { DEFAULT_PACING_QUANTUM_US } from "./pacing.ts";
import { hostsOfShard, parseShard, type ShardSlice } from "./shard-plan.ts";
import { DEFAULT_TARGET, parseTarget } from "./sources.ts";
import { transportNames } from "./transport.ts";

/** Largest message text the blaster writes (bytes, before fragmentation). */
export const MAX_SIZE = 60_000;

/** A mistake in the options: the CLI prints the message and exits 2. */
export class BlastOptionsError extends Error {
  override name = "BlastOptionsError";
}

/** `64` (fixed), `200-1400` (uniform range) or `realistic`; a SizeSpec object passes as it is. */
const size = z
  .union([
    z.number(),
    z.string(),
    z.strictObject({ kind: z.literal("realistic") }),
    z.strictObject({ kind: z.literal("fixed"), bytes: z.number() }),
    z.strictObject({ kind: z.literal("range"), min: z.number(), max: z.number() }),
  ])
  .transform((v, ctx): SizeSpec => {
    let spec: SizeSpec | null = null;
    if (typeof v === "object") spec = v;
    else if (typeof v === "number") spec = { kind: "fixed", bytes: v };
    else if (v.trim() === "realistic") spec = { kind: "realistic" };
    else {
      const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(v);
      if (m)
        spec =
          m[2] === undefined
            ? { kind: "fixed", bytes: Number(m[1]) }
            : { kind: "range", min: Number(m[1]), max: Number(m[2]) };
    }
    const ok = (n: number) => Number.isInteger(n) && n >= 1 && n <= MAX_SIZE;
    if (
      spec &&
      (spec.kind === "realistic" ||
        (spec.kind === "fixed" && ok(spec.bytes)) ||
        (spec.kind === "range" && ok(spec.min) && ok(spec.max) && spec.min <= spec.max))
    ) {
      return spec;
    }
    ctx.addIssue({
      code: "custom",
      message: `expected a size in bytes (1 to ${MAX_SIZE}), a range MIN-MAX with MIN <= MAX, or "realistic", got ${JSON.stringify(v)}`,
    });
    return z.NEVER;
  });

/** How a size is written back (reports, plans): `64`, `200-1400`, `realistic`. */
export function describeSize(size: SizeSpec): string {
  if (size.kind === "fixed") return String(size.bytes);
  if (size.kind === "range") return `${size.min}-${size.max}`;
  return "realistic";
}

const SYSDATA_FIELDS = ["cpu", "taskname", "release", "msgid"] as const;

/** `cpu,taskname`, a list of names, or `{ cpu: true, ... }`. */
const sysdata = z
  .union([z.string(), z.array(z.string()), z.record(z.string(), z.boolean())])
  .transform((v, ctx): SysdataFields => {
    const out: SysdataFields = { cpu: false, taskname: false, release: false, msgid: false };
    const entries: [string, boolean][] =
      typeof v === "string"
        ? v.split(",").map((n) => [n.trim(), true])
        : Array.isArray(v)
          ? v.map((n) => [n, true])
          : Object.entries(v);
    for (const [name, on] of entries) {
      if (!(SYSDATA_FIELDS as readonly string[]).includes(name)) {
        ctx.addIssue({
          code: "custom",
          message: `expected a comma list of ${SYSDATA_FIELDS.join(", ")}, got ${JSON.stringify(name)}`,
        });
        return z.NEVER;
      }
      out[name as keyof SysdataFields] = on;
    }
    return out;
  });

/** A userdata key as netconsole's configfs takes it. */
const USERDATA_KEY = /^[A-Za-z0-9_.-]{1,53}$/;
/** A userdata value: under 200 bytes, one line. */
const USERDATA_VALUE_BYTES = 200;

const userdataEntry = z
  .union([z.string(), z.tuple([z.string(), z.string()])])
  .transform((v, ctx): [string, string] => {
    const eq = typeof v === "string" ? v.indexOf("=") : -1;
    const [key, value] = typeof v === "string" ? [v.slice(0, Math.max(eq, 0)), v.slice(eq + 1)] : v;
    if (
      !USERDATA_KEY.test(key) ||
      Buffer.byteLength(value) >= USERDATA_VALUE_BYTES ||
      /[\n\r]/.test(value)
    ) {
      ctx.addIssue({
        code: "custom",
        message: `expected KEY=VALUE (key: 1-53 of A-Z a-z 0-9 _ . -, value under ${USERDATA_VALUE_BYTES} bytes, one line), got ${JSON.stringify(v)}`,
      });
      return z.NEVER;
    }
    return [key, value];
  });

/** `FROM:TO` or `[FROM, TO]`, in datagrams per second. */
const ramp = z
  .union([
    z.string(),
    z.tuple([z.union([z.number(), z.string()]), z.union([z.number(), z.string()])]),
  ])
  .transform((v, ctx): [number, number] => {
    const parts = typeof v === "string" ? v.split(":") : v.map(String);
    const rate = decimal(0, 1e9);
    const a = parts.length === 2 ? rate.safeParse(parts[0]) : null;
    const b = parts.length === 2 ? rate.safeParse(parts[1]) : null;
    if (!a?.success || !b?.success) {
      ctx.addIssue({
        code: "custom",
        message: `expected FROM:TO, two rates from 0 to 1e9 datagrams/s, got ${JSON.stringify(v)}`,
      });
      return z.NEVER;
    }
    return [a.data, b.data];
  });

const startSeq = z.union([z.literal("random"), integer(0, Number.MAX_SAFE_INTEGER / 2)]);

const target = z.string().refine((v) => parseTarget(v) !== null, {
  error: (issue) =>
    `expected ADDRESS:PORT such as [::1]:1514, 127.0.0.1:1514 or host:port, got ${JSON.stringify(issue.input)}`,
});

const transport = z.string().refine((v) => transportNames().includes(v), {
  error: (issue) =>
    `unknown transport ${JSON.stringify(issue.input)} (known: ${transportNames().join(", ")})`,
});

/** `I/N`, or `{ index, count }`. */
const shard = z
  .union([z.string(), z.strictObject({ index: z.number(), count: z.number() })])
  .transform((v, ctx): ShardSlice => {
    const slice = typeof v === "string" ? parseShard(v) : v;
    if (
      !slice ||
      !Number.isInteger(slice.index) ||
      !Number.isInteger(slice.count) ||
      slice.count < 1 ||
      slice.count > MAX_SHARDS ||
      slice.index < 0 ||
      slice.index >= slice.count
    ) {
      ctx.addIssue({
        code: "custom",
        message: `expected I/N with 0 <= I < N <= ${MAX_SHARDS} (shard I of N), got ${JSON.stringify(v)}`,
      });
      return z.NEVER;
    }
    return slice;
  });

/** Most shards (processes) one load may be split into. */
export const MAX_SHARDS = 100_000;

const RFC3339 = /^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d(\.\d+)?)?([Zz]|[+-]\d\d:\d\d)$/;

/** A wall-clock time: RFC 3339 (`2026-11-28T08:00:00Z`) or epoch milliseconds -> epoch ms. */
const startAt = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const ms =
    typeof v === "number"
      ? v
      : /^\s*\d+\s*$/.test(v)
        ? Number(v)
        : RFC3339.test(v.trim())
          ? Date.parse(v.trim())
          : Number.NaN;
  if (!Number.isSafeInteger(Math.round(ms)) || ms < 0) {
    ctx.addIssue({
      code: "custom",
      message: `expected a time as RFC 3339 (2026-11-28T08:00:00Z) or epoch milliseconds, got ${JSON.stringify(v)}`,
    });
    return z.NEVER;
  }
  return Math.round(ms);
});

/**
 * runBlast's options, each key's help, form and default, without the checks across keys: for
 * schemas built from it (a scenario's `load` omits or overrides keys, then adds
 * checkBlastOptions).
 */
export const blastOptionFields = z.strictObject({
  target: target
    .default(DEFAULT_TARGET)
    .describe("where to send, ADDRESS:PORT (loopback unless --allow-remote)"),
  allowRemote: flag.default(false).describe("allow a target outside loopback"),
  sources: z
    .string()
    .default("auto")
    .describe(
      "source addresses: auto (127.x.y.z, or ::ffff:127.x.y.z towards IPv6), shared (one address), or a prefix ADDRESS/LEN to bind from",
    ),
  transport: transport.default("socket").describe("how datagrams leave (see the list below)"),
  hosts: integer(1, 16_000_000).default(100).describe("simulated hosts (all shards together)"),
  workers: integer(1, 64)
    .default(1)
    .describe(
      "sending threads: 1 = the main thread, N > 1 = N worker threads, each for a shard of the hosts",
    ),
  format: choice(["extended", "legacy", "mixed"])
    .default("extended")
    .describe("extended, legacy, or mixed (each host one or the other)"),
  size: size
    .default({ kind: "realistic" })
    .describe(
      "message size in bytes (64 = 64-byte datagrams; > 1000 fragments), a range MIN-MAX, or realistic (the corpus's own lengths)",
    ),
  stamp: flag
    .default(true)
    .describe("latency stamp ncb1:<host>:<intendedUs> at the start of each message's text"),
  releasePrefix: flag
    .default(false)
    .describe("prefix extended payloads with the kernel release (netconsole's r flag)"),
  sysdata: sysdata
    .default({ cpu: false, taskname: false, release: false, msgid: false })
    .describe("append sysdata lines: comma list of cpu,taskname,release,msgid"),
  userdata: z
    .union([z.array(userdataEntry), userdataEntry.transform((e) => [e])])
    .default([])
    .describe("append a userdata line KEY=VALUE (repeatable)"),
  caller: flag
    .default(false)
    .describe("add caller=T<pid>/C<cpu> to the header (CONFIG_PRINTK_CALLER)"),
  startSeq: startSeq
    .default("random")
    .describe("first seq of every host, or random (per host, from the seed)"),
  rate: decimal(0, 1e9)
    .default(0)
    .describe("datagrams per second, all workers and shards together (0 = as fast as possible)"),
  ramp: ramp.optional().describe("rate ramps linearly from FROM to TO datagrams/s over --duration"),
  burst: integer(1, 1_000_000)
    .default(1)
    .describe("datagrams per burst sharing one intended send time (average rate unchanged)"),
  duration: duration("ms", { zero: true })
    .optional()
    .describe("run time (default 10s unless --count is given)"),
  count: integer(0).optional().describe("messages to send in total (all shards together), exactly"),
  loss: probability.default(0).describe("probability a datagram is lost (never sent)"),
  reorder: probability
    .default(0)
    .describe("probability a datagram is held back behind later ones of its host"),
  reorderDepth: integer(1, 1_000_000)
    .default(3)
    .describe("a held datagram waits for 1..N later datagrams of its host"),
  duplicate: probability.default(0).describe("probability a datagram is sent twice"),
  storm: probability
    .default(0)
    .describe("storm mode: this share of hosts panics at once (a burst of long records)"),
  stormAt: duration("ms", { zero: true })
    .optional()
    .describe("when the storm starts (default: half of --duration, else at once)"),
  seed: integer(0, 2 ** 32 - 1)
    .optional()
    .describe("seed for content and impairments (default random; always reported)"),
  truth: z.string().min(1).optional().describe("write the per-host ground truth as JSON Lines"),
  batch: integer(1, 4096).default(256).describe("datagrams generated and sent per batch"),
  gso: choice(["auto", "on", "off"])
    .default("auto")
    .describe("UDP segmentation offload for batched sends: auto (where it helps), on, off"),
  pacingQuantum: duration("us", { zero: true, max: 1_000_000 })
    .default(DEFAULT_PACING_QUANTUM_US)
    .describe(
      "shortest sleep between two paced batches (bounds wake-ups; each datagram still carries its intended time)",
    ),
  shard: shard
    .optional()
    .describe(
      "send only shard I of N of the load: a disjoint slice of the hosts and 1/N of the rate and count (default 0/1, or JOB_COMPLETION_INDEX of --shards)",
    ),
  startAt: startAt
    .optional()
    .describe(
      "start at this wall-clock time (RFC 3339 or epoch ms), so that all shards begin together",
    ),
});

type Fields = z.output<typeof blastOptionFields>;

/** The rules between options (workers and shards need hosts, a ramp a duration...). */
export function checkBlastOptions(
  o: Pick<Fields, "hosts" | "workers" | "shard" | "seed" | "ramp" | "duration" | "burst" | "rate">,
  ctx: z.RefinementCtx,
): void {
  const issue = (path: string, message: string) =>
    ctx.addIssue({ code: "custom", path: [path], message });
  const slice = o.shard ?? { index: 0, count: 1 };
  if (slice.count > o.hosts) {
    issue(
      "shard",
      `${slice.count} shards is more than {hosts} ${o.hosts}: every shard needs hosts`,
    );
  }
  const mine = hostsOfShard(o.hosts, slice.count, slice.index);
  if (o.workers > mine) {
    issue(
      "workers",
      slice.count > 1
        ? `${o.workers} is more than the ${mine} hosts of shard ${slice.index}/${slice.count}: every worker needs hosts`
        : `${o.workers} is more than {hosts} ${o.hosts}: every worker needs hosts`,
    );
  }
  if (slice.count > 1 && o.seed === undefined) {
    issue("shard", "needs {seed}: every shard of a load must use the same seed");
  }
  if (o.ramp) {
    if (o.duration === undefined || o.duration <= 0) {
      issue("ramp", "FROM:TO needs {duration} (the ramp spans the whole run)");
    }
    if (o.ramp[0] + o.ramp[1] <= 0) issue("ramp", "needs a positive rate at one end at least");
  }
  if (o.burst > 1 && o.rate === 0 && !o.ramp) {
    issue("burst", "needs {rate} or {ramp} (unpaced sends are one long burst already)");
  }
}

/** runBlast's options (the `blast` flags, a scenario's `load`): fields and checks. */
export const blastOptionsSchema = blastOptionFields.superRefine(checkBlastOptions);

/** What callers pass (every key optional, flag text accepted). */
export type BlastOptions = z.input<typeof blastOptionsSchema>;
/** After validation: defaults filled in, durations in ms (pacingQuantum in µs), text parsed. */
export type ResolvedBlastOptions = z.output<typeof blastOptionsSchema>;

/** The default run time when neither duration nor count is given (ms). */
export const DEFAULT_DURATION_MS = 10_000;

/**
 * Validates `options` (defaults filled in) or throws a BlastOptionsError naming each bad option
 * the way `name` says (`--hosts` by default, as the flags are named).
 */
export function resolveBlastOptions(
  options: BlastOptions = {},
  name: (key: string) => string = flagOf,
): ResolvedBlastOptions {
  const parsed = blastOptionsSchema.safeParse(definedOnly(options));
  if (!parsed.success) {
    throw new BlastOptionsError(formatIssues(parsed.error, name, "blast option"));
  }
  return parsed.data;
}
