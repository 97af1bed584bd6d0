/**
 * `netcons-bench blast`: kernel-faithful netconsole traffic from many simulated hosts, with
 * seeded impairments and paced, stamped sends. A thin layer over blaster/blast.ts (runBlast):
 * flags built from the options schema, output paths checked first, live progress line and
 * NDJSON intervals, human summary, JSON report, signals.
 */
import { appendFileSync, writeFileSync } from "node:fs";
import { SingleBar } from "cli-progress";
import { type Command, Option } from "commander";
import {
  type BlastProgress,
  type BlastReport,
  type BlastStart,
  runBlast,
} from "../../blaster/blast.ts";
import { intervalLateness } from "../../blaster/lateness-buckets.ts";
import { flagOf } from "../../blaster/option-values.ts";
import {
  type BlastOptions,
  BlastOptionsError,
  blastOptionsSchema,
  describeSize,
  resolveBlastOptions,
} from "../../blaster/options.ts";
import { INDEX_ENV, SHARDS_ENV, shardFromEnvironment } from "../../blaster/shard-plan.ts";
import { transportDescriptions } from "../../blaster/transport.ts";
import { bytes, count, durationUs, rate } from "../format.ts";
import { EXIT, errorLine, UsageError } from "../options.ts";
import { checkWritable, humanOut, writeJson } from "../output-files.ts";
import { onInterrupt } from "../signals.ts";

type BlastKey = keyof typeof blastOptionsSchema.shape;

/**
 * How each option looks on the command line: its short flag (the same in every command that
 * has one), its argument's name (none: a switch; `negate`: the switch turns a default-on option
 * off), and whether it repeats. Help text, accepted forms and defaults come from the schema.
 */
const BLAST_FLAGS = {
  target: { short: "t", arg: "addr:port" },
  allowRemote: {},
  sources: { arg: "spec" },
  transport: { arg: "name" },
  hosts: { short: "n", arg: "n" },
  workers: { short: "w", arg: "n" },
  format: { arg: "format" },
  size: { arg: "size" },
  stamp: { negate: true },
  releasePrefix: {},
  sysdata: { arg: "fields" },
  userdata: { arg: "key=value", repeat: true },
  caller: {},
  startSeq: { arg: "n" },
  rate: { short: "r", arg: "pps" },
  ramp: { arg: "from:to" },
  burst: { arg: "n" },
  duration: { short: "d", arg: "time" },
  count: { short: "c", arg: "n" },
  loss: { arg: "p" },
  reorder: { arg: "p" },
  reorderDepth: { arg: "n" },
  duplicate: { arg: "p" },
  storm: { arg: "share" },
  stormAt: { arg: "time" },
  seed: { arg: "n" },
  truth: { arg: "file" },
  batch: { arg: "n" },
  gso: { arg: "mode" },
  pacingQuantum: { arg: "duration" },
  shard: { arg: "i/n" },
  startAt: { arg: "time" },
} satisfies Record<BlastKey, { short?: string; arg?: string; negate?: boolean; repeat?: boolean }>;

/** A default as a user would type it (durations with a unit, sizes and lists as text). */
function defaultText(key: BlastKey, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (key === "size") return describeSize(value as Parameters<typeof describeSize>[0]);
  if (key === "pacingQuantum") return `${value}us`;
  if (key === "sysdata") {
    const on = Object.entries(value as Record<string, boolean>).filter(([, v]) => v);
    return on.length ? on.map(([k]) => k).join(",") : "none";
  }
  if (Array.isArray(value)) return value.length ? value.join(",") : "none";
  return String(value);
}

/** A flag of the blast command, from the schema's key: the text given goes to the schema. */
function schemaOption(key: BlastKey): Option {
  const field = blastOptionsSchema.shape[key];
  const spec: { short?: string; arg?: string; negate?: boolean; repeat?: boolean } =
    BLAST_FLAGS[key];
  const long = spec.negate ? `--no-${flagOf(key).slice(2)}` : flagOf(key);
  const flags = `${spec.short ? `-${spec.short}, ` : ""}${long}${spec.arg ? ` <${spec.arg}>` : ""}`;
  let help = field.description ?? "";
  if (key === "transport") {
    help = `how datagrams leave: ${Object.entries(transportDescriptions())
      .map(([k, v]) => `${k} (${v})`)
      .join("; ")}`;
  }
  const fallback = spec.arg ? defaultText(key, field.safeParse(undefined).data) : undefined;
  // The default is only shown: the schema fills it in, so an absent flag stays absent here.
  if (fallback !== undefined) help += ` (default: ${fallback})`;
  if (spec.negate) help = `omit the ${help}`;
  const option = new Option(flags, help);
  if (spec.repeat) {
    option.argParser((value: string, previous: string[] = []) => [...previous, value]);
  }
  return option;
}

/** The blast command's parsed flags (the text given; the schema checks it). */
export type BlastFlags = Partial<Record<BlastKey, unknown>> & {
  json?: string;
  ndjson?: string;
  shards?: string;
  progress: boolean;
};

export function register(program: Command): void {
  const command = program
    .command("blast")
    .description(
      "Send kernel-faithful netconsole traffic from many simulated hosts (each with its own " +
        "source address, seqs, timestamps and content), with seeded loss/reorder/duplication and " +
        "exact ground truth, paced sends stamped with their intended time, from the main thread or " +
        "several worker threads, or as one shard of a load spread over many processes or machines.",
    );
  for (const key of Object.keys(BLAST_FLAGS) as BlastKey[]) command.addOption(schemaOption(key));
  command
    .option(
      "--shards <n>",
      `the number of shards N when the index I comes from ${INDEX_ENV} (Kubernetes Indexed Jobs; default ${SHARDS_ENV})`,
    )
    .option(
      "--json <file>",
      "write the report as JSON (- = stdout, which then holds only the JSON)",
    )
    .option(
      "--ndjson <file>",
      "write one JSON object per second (sent, rate, errors, lateness p50/p99/max; - = stdout, which then holds only them)",
    )
    .option("--no-progress", "no live progress line (it is shown only on a terminal anyway)")
    .action(async (opts: BlastFlags) => {
      process.exitCode = await blast(opts);
    });
}

/** The options runBlast takes, from the flags (and the shard from the environment). */
export function blastOptionsOf(
  opts: BlastFlags,
  env: Record<string, string | undefined> = process.env,
): BlastOptions {
  const options = Object.fromEntries(
    (Object.keys(BLAST_FLAGS) as BlastKey[]).map((key) => [key, opts[key]]),
  ) as BlastOptions;
  if (options.shard === undefined) {
    const fromEnv = shardFromEnvironment(env, opts.shards);
    if (fromEnv && "error" in fromEnv) throw new UsageError(fromEnv.error);
    if (fromEnv) options.shard = fromEnv.shard;
    else if (opts.shards !== undefined) {
      throw new UsageError(
        `--shards is the N of an index taken from ${INDEX_ENV}, which is not set: give --shard I/N`,
      );
    }
  } else if (opts.shards !== undefined) {
    throw new UsageError(
      "--shards is for an index from JOB_COMPLETION_INDEX; --shard I/N gives both",
    );
  }
  return options;
}

async function blast(opts: BlastFlags): Promise<number> {
  const options = blastOptionsOf(opts);
  let workers: number;
  try {
    // Every mistake in the options before anything else (output files, the target...).
    workers = resolveBlastOptions(options).workers;
  } catch (error) {
    if (error instanceof BlastOptionsError) throw new UsageError(error.message);
    throw error;
  }
  if (opts.json === "-" && opts.ndjson === "-") {
    throw new UsageError(
      "--json - and --ndjson - would mix two formats on stdout: give one a file",
    );
  }
  checkWritable([
    ["--json", opts.json],
    ["--ndjson", opts.ndjson],
    ["--truth", typeof opts.truth === "string" ? opts.truth : undefined],
  ]);
  const human = humanOut(opts.json, opts.ndjson);
  const controller = new AbortController();
  // First Ctrl-C/SIGTERM: stop cleanly and report; a second one: leave at once.
  const release = onInterrupt(() => controller.abort());
  const ndjson = opts.ndjson ? intervalWriter(opts.ndjson) : null;
  let bar: SingleBar | null = null;
  let totalMs: number | undefined;
  const onStart = (start: BlastStart) => {
    const s = start.setup;
    const shard = s.slice.count > 1 ? `, shard ${s.slice.index}/${s.slice.count}` : "";
    process.stderr.write(`blast: seed ${start.seed}${shard}\n`);
    if (start.waitMs > 0) {
      process.stderr.write(`blast: waiting ${durationUs(start.waitMs * 1000)} for --start-at\n`);
    }
    if (start.lateMs > 0) {
      process.stderr.write(
        `blast: starting ${durationUs(start.lateMs * 1000)} after --start-at (counted as lateness)\n`,
      );
    }
    totalMs = s.durationMs > 0 ? s.durationMs : undefined;
    bar =
      opts.progress && process.stderr.isTTY
        ? new SingleBar({
            stream: process.stderr,
            format:
              totalMs !== undefined
                ? "{bar} {elapsedS}/{totalS} s | {ratePps} | sent {sent} | errors {errors} | messages {messages}"
                : "{bar} {value}/{total} messages | {ratePps} | sent {sent} | errors {errors} | {elapsedS} s",
            hideCursor: true,
            clearOnComplete: true,
            barsize: 20,
          })
        : null;
    bar?.start(totalMs ?? Math.max(0, s.count), 0, {
      elapsedS: "0.0",
      totalS: ((totalMs ?? 0) / 1000).toFixed(0),
      ratePps: rate(0),
      sent: 0,
      errors: 0,
      messages: 0,
    });
  };
  const onProgress = (p: BlastProgress) => {
    ndjson?.(p);
    bar?.update(totalMs !== undefined ? Math.min(p.elapsedMs, totalMs) : p.messages, {
      elapsedS: (p.elapsedMs / 1000).toFixed(1),
      ratePps: rate(p.ratePps),
      sent: count(p.sent),
      errors: count(p.errors),
      messages: count(p.messages),
    });
  };
  let report: BlastReport;
  try {
    report = await runBlast(options, {
      signal: controller.signal,
      // One sending thread: the main one, which has nothing else to do here (no worker isolate:
      // ~10 MB less memory at a million hosts).
      mainThread: workers === 1,
      onStart,
      onProgress: ndjson || (opts.progress && process.stderr.isTTY) ? onProgress : undefined,
    });
  } catch (error) {
    if (error instanceof BlastOptionsError) throw new UsageError(error.message);
    // A failed run (a socket that cannot be bound...): one line; the stack with --debug.
    process.stderr.write(errorLine(error, "blast failed"));
    return EXIT.failure;
  } finally {
    (bar as SingleBar | null)?.stop();
    release();
  }
  human.write(formatSummary(report));
  if (opts.json) writeJson(opts.json, report);
  return report.stopped === "signal" ? EXIT.interrupted : EXIT.ok;
}

/**
 * NDJSON intervals: one object per second of the run (what was sent in it and in all, its rate,
 * errors, the lateness percentiles of paced sends in it). "-" writes to stdout. The file starts empty, so an earlier run's lines never pass for
 * this one's.
 */
function intervalWriter(file: string): (p: BlastProgress) => void {
  if (file !== "-") writeFileSync(file, "");
  let nextMs = 1000;
  let last: BlastProgress = {
    elapsedMs: 0,
    sent: 0,
    errors: 0,
    messages: 0,
    ratePps: 0,
    latenessBuckets: null,
  };
  return (p) => {
    if (p.elapsedMs < nextMs) return;
    nextMs = (Math.floor(p.elapsedMs / 1000) + 1) * 1000;
    const spanMs = p.elapsedMs - last.elapsedMs;
    const line = `${JSON.stringify({
      elapsedMs: Math.round(p.elapsedMs),
      intervalMs: Math.round(spanMs),
      sent: p.sent - last.sent,
      sentTotal: p.sent,
      messages: p.messages - last.messages,
      ratePps: spanMs > 0 ? Math.round(((p.sent - last.sent) * 1000) / spanMs) : 0,
      errors: p.errors - last.errors,
      errorsTotal: p.errors,
      // Paced runs: lateness of actual against intended send time in this interval (null
      // unpaced, or nothing sent in it); log-scale buckets, within 12.5%.
      latenessUs: p.latenessBuckets
        ? intervalLateness(p.latenessBuckets, last.latenessBuckets)
        : null,
    })}\n`;
    last = p;
    if (file === "-") process.stdout.write(line);
    else appendFileSync(file, line);
  };
}

/** The human summary (every figure is also in the JSON report). */
export function formatSummary(r: BlastReport): string {
  const lines: string[] = [];
  const src =
    r.sources.first === null
      ? "one shared source address"
      : `${r.sources.first} .. ${r.sources.last}`;
  const shards =
    r.shards.count > 1
      ? r.shards.included.length === 1
        ? `, shard ${r.shards.included[0]}/${r.shards.count}`
        : `, ${r.shards.included.length} of ${r.shards.count} shards merged`
      : "";
  lines.push(`blast: seed ${r.seed}${shards}, stopped by ${r.stopped}`);
  for (const note of r.notes) lines.push(`  note: ${note}`);
  lines.push(
    `  target ${r.target} from ${count(r.hosts)} hosts (${src}), transport ${r.transport}, ${r.mainThread ? "sent from the main thread" : `${r.workers} worker${r.workers === 1 ? "" : "s"}`}`,
  );
  lines.push(
    `  messages ${count(r.messages)} (extended ${count(r.messagesExtended)}, legacy ${count(r.messagesLegacy)}${r.stormMessages ? `, storm ${count(r.stormMessages)}` : ""}), format ${r.format}, size ${r.size}${r.stamp ? "" : ", no stamp"}`,
  );
  lines.push(
    `  packets sent ${count(r.packets.sent)} (${count(r.fragmentsSent)} fragments, ${bytes(r.packets.bytes)}), errors ${count(r.packets.errors)}${Object.keys(r.packets.errorsByCode).length ? ` ${JSON.stringify(r.packets.errorsByCode)}` : ""}`,
  );
  if (r.gso.used || r.gso.mode === "on") {
    lines.push(
      `  UDP GSO (--gso ${r.gso.mode}): ${count(r.gso.datagrams)} datagrams in ${count(r.gso.sends)} GSO sends`,
    );
  } else if (r.transport === "udp-batch") {
    lines.push(`  UDP GSO (--gso ${r.gso.mode}): not used`);
  }
  const target = r.rate.ramp
    ? `ramp ${rate(r.rate.ramp[0])} -> ${rate(r.rate.ramp[1])}`
    : r.rate.targetPps > 0
      ? `target ${rate(r.rate.targetPps)}`
      : "unpaced";
  lines.push(
    `  duration ${durationUs(r.durationMs * 1000)}, achieved ${rate(r.rate.achievedPps)} (${target}), send-loop CPU ${durationUs(r.cpu.usPerPacket)} per packet`,
  );
  if (r.start.lateUs > 0 && r.start.atMs !== null) {
    lines.push(`  started ${durationUs(r.start.lateUs)} after --start-at`);
  }
  if (r.latenessUs) {
    const l = r.latenessUs;
    lines.push(
      `  lateness of actual vs intended send time: p50 ${durationUs(l.p50)}, p90 ${durationUs(l.p90)}, p99 ${durationUs(l.p99)}, p99.9 ${durationUs(l.p999)}, max ${durationUs(l.max)}`,
    );
  }
  lines.push(
    `  injected: lost ${count(r.injected.lost)}, reordered ${count(r.injected.reordered)}, duplicated ${count(r.injected.duplicated)}`,
  );
  lines.push(
    `  expected at a perfect receiver (extended): delivered ${count(r.expected.messagesDelivered)}, missing ${count(r.expected.missing)}, duplicates ${count(r.expected.duplicates)}, out of order ${count(r.expected.outOfOrder)}`,
  );
  if (r.truthFile) lines.push(`  truth written to ${r.truthFile}`);
  return `${lines.join("\n")}\n`;
}
