/**
 * `netcons-bench blast`: kernel-faithful netconsole traffic from many simulated hosts, with
 * seeded impairments and paced, stamped sends. A thin layer over blaster/blast.ts (runBlast):
 * options, live progress line, human summary, JSON and truth files, signals.
 */
import { writeFileSync } from "node:fs";
import { SingleBar } from "cli-progress";
import { type Command, InvalidArgumentError, Option } from "commander";
import {
  type BlastOptions,
  BlastOptionsError,
  type BlastReport,
  MAX_SIZE,
  runBlast,
} from "../../blaster/blast.ts";
import type { Format, SizeSpec, SysdataFields } from "../../blaster/content.ts";
import { DEFAULT_TARGET, parseTarget } from "../../blaster/sources.ts";
import { transportDescriptions } from "../../blaster/transport.ts";
import {
  choiceOption,
  durationOption,
  EXIT,
  integerOption,
  numberOption,
  pairOption,
  probabilityOption,
  UsageError,
} from "../options.ts";

interface CliOptions {
  target: string;
  allowRemote?: boolean;
  sources: string;
  transport: string;
  hosts: number;
  workers: number;
  format: Format;
  size: SizeSpec;
  stamp: boolean;
  releasePrefix?: boolean;
  sysdata: Partial<SysdataFields>;
  userdata: [string, string][];
  caller?: boolean;
  startSeq: number | "random";
  rate: number;
  ramp?: [number, number];
  burst: number;
  duration?: number;
  count?: number;
  loss: number;
  reorder: number;
  reorderDepth: number;
  duplicate: number;
  storm: number;
  stormAt?: number;
  seed?: number;
  json?: string;
  truth?: string;
  batch: number;
  progress: boolean;
}

function targetOption(value: string): string {
  if (!parseTarget(value)) {
    throw new InvalidArgumentError("expected ADDRESS:PORT such as [::1]:1514 or 127.0.0.1:1514.");
  }
  return value;
}

/** `64` (fixed), `200-1400` (uniform range) or `realistic`. */
export function sizeOption(value: string): SizeSpec {
  if (value === "realistic") return { kind: "realistic" };
  const range = /^(\d+)-(\d+)$/.exec(value.trim());
  if (range) {
    const min = Number(range[1]);
    const max = Number(range[2]);
    if (min >= 1 && min <= max && max <= MAX_SIZE) return { kind: "range", min, max };
  } else if (/^\d+$/.test(value.trim())) {
    const bytes = Number(value);
    if (bytes >= 1 && bytes <= MAX_SIZE) return { kind: "fixed", bytes };
  }
  throw new InvalidArgumentError(
    `expected a size in bytes (1 to ${MAX_SIZE}), a range MIN-MAX, or "realistic".`,
  );
}

const SYSDATA_FIELDS = ["cpu", "taskname", "release", "msgid"] as const;

function sysdataOption(value: string): Partial<SysdataFields> {
  const out: Partial<SysdataFields> = {};
  for (const part of value.split(",")) {
    const name = part.trim();
    if (!(SYSDATA_FIELDS as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(`expected a comma list of ${SYSDATA_FIELDS.join(", ")}.`);
    }
    out[name as keyof SysdataFields] = true;
  }
  return out;
}

function userdataOption(value: string, previous: [string, string][]): [string, string][] {
  const eq = value.indexOf("=");
  const key = eq > 0 ? value.slice(0, eq) : "";
  const val = eq > 0 ? value.slice(eq + 1) : "";
  if (!/^[A-Za-z0-9_.-]{1,53}$/.test(key) || Buffer.byteLength(val) >= 200 || /[\n\r]/.test(val)) {
    throw new InvalidArgumentError(
      "expected KEY=VALUE (key: 1-53 of A-Z a-z 0-9 _ . -, value under 200 bytes, one line).",
    );
  }
  return [...previous, [key, val]];
}

function startSeqOption(value: string): number | "random" {
  if (value === "random") return "random";
  return integerOption("--start-seq", 0, Number.MAX_SAFE_INTEGER / 2)(value);
}

export function register(program: Command): void {
  const transports = transportDescriptions();
  program
    .command("blast")
    .description(
      "Send kernel-faithful netconsole traffic from many simulated hosts (each with its own " +
        "source address, seqs, timestamps and content), with seeded loss/reorder/duplication and " +
        "exact ground truth, paced sends stamped with their intended time, from the main thread or " +
        "several worker threads.",
    )
    .option(
      "-t, --target <addr:port>",
      "where to send (loopback unless --allow-remote)",
      targetOption,
      DEFAULT_TARGET,
    )
    .option("--allow-remote", "allow a target outside loopback")
    .option(
      "--sources <spec>",
      "source addresses: auto (127.x.y.z, or ::ffff:127.x.y.z towards IPv6), shared (one address), or a prefix ADDRESS/LEN to bind from",
      "auto",
    )
    .option(
      "--transport <name>",
      `how datagrams leave: ${Object.entries(transports)
        .map(([k, v]) => `${k} (${v})`)
        .join("; ")}`,
      "socket",
    )
    .option("-n, --hosts <n>", "simulated hosts", integerOption("--hosts", 1, 16_000_000), 100)
    .option(
      "-w, --workers <n>",
      "sending threads: 1 = the main thread, N > 1 = N worker threads, each for a shard of the hosts",
      integerOption("--workers", 1, 64),
      1,
    )
    .option(
      "--format <format>",
      "extended, legacy, or mixed (each host one or the other)",
      choiceOption("--format", ["extended", "legacy", "mixed"] as const),
      "extended",
    )
    .addOption(
      new Option(
        "--size <size>",
        "message size in bytes (64 = 64-byte datagrams; > 1000 fragments), a range MIN-MAX, or realistic (the corpus's own lengths)",
      )
        .argParser(sizeOption)
        .default({ kind: "realistic" } as SizeSpec, "realistic"),
    )
    .option("--no-stamp", "omit the latency stamp ncb1:<host>:<intendedUs> from the text")
    .option(
      "--release-prefix",
      "prefix extended payloads with the kernel release (netconsole's r flag)",
    )
    .addOption(
      new Option(
        "--sysdata <fields>",
        "append sysdata lines: comma list of cpu,taskname,release,msgid",
      )
        .argParser(sysdataOption)
        .default({}, "none"),
    )
    .addOption(
      new Option("--userdata <key=value>", "append a userdata line (repeatable)")
        .argParser(userdataOption)
        .default([], "none"),
    )
    .option("--caller", "add caller=T<pid>/C<cpu> to the header (CONFIG_PRINTK_CALLER)")
    .option(
      "--start-seq <n>",
      "first seq of every host, or random (per host, from the seed)",
      startSeqOption,
      "random",
    )
    .option(
      "-r, --rate <pps>",
      "datagrams per second, all workers together (0 = as fast as possible)",
      numberOption("--rate", 0, 1e9),
      0,
    )
    .option(
      "--ramp <from:to>",
      "rate ramps linearly from FROM to TO pps over --duration",
      pairOption("--ramp"),
    )
    .option(
      "--burst <n>",
      "datagrams per burst sharing one intended send time (average rate unchanged)",
      integerOption("--burst", 1, 1_000_000),
      1,
    )
    .option(
      "-d, --duration <time>",
      "run time (default 10s unless --count is given)",
      durationOption("--duration"),
    )
    .option("-c, --count <n>", "messages to send in total, exactly", integerOption("--count", 0))
    .option(
      "--loss <p>",
      "probability a datagram is lost (never sent)",
      probabilityOption("--loss"),
      0,
    )
    .option(
      "--reorder <p>",
      "probability a datagram is held back behind later ones of its host",
      probabilityOption("--reorder"),
      0,
    )
    .option(
      "--reorder-depth <n>",
      "a held datagram waits for 1..N later datagrams of its host",
      integerOption("--reorder-depth", 1, 1_000_000),
      3,
    )
    .option(
      "--duplicate <p>",
      "probability a datagram is sent twice",
      probabilityOption("--duplicate"),
      0,
    )
    .option(
      "--storm <share>",
      "storm mode: this share of hosts panics at once (a burst of long records)",
      probabilityOption("--storm"),
      0,
    )
    .option(
      "--storm-at <time>",
      "when the storm starts (default: half of --duration, else at once)",
      durationOption("--storm-at"),
    )
    .option(
      "-s, --seed <n>",
      "seed for content and impairments (default random; always printed)",
      integerOption("--seed", 0, 2 ** 32 - 1),
    )
    .option("--json <file>", "write the report as JSON")
    .option("--truth <file>", "write the per-host ground truth as JSON Lines")
    .option(
      "--batch <n>",
      "datagrams generated and sent per batch",
      integerOption("--batch", 1, 4096),
      256,
    )
    .option("--no-progress", "no live progress line (it is shown only on a terminal anyway)")
    .action(async (opts: CliOptions) => {
      process.exitCode = await blast(opts);
    });
}

async function blast(opts: CliOptions): Promise<number> {
  const options: BlastOptions = {
    target: opts.target,
    allowRemote: opts.allowRemote === true,
    sources: opts.sources,
    transport: opts.transport,
    hosts: opts.hosts,
    workers: opts.workers,
    // One sending thread: the main one, which has nothing else to do here (no worker isolate:
    // ~10 MB less memory at a million hosts).
    mainThread: opts.workers === 1,
    format: opts.format,
    size: opts.size,
    stamp: opts.stamp,
    releasePrefix: opts.releasePrefix === true,
    sysdata: opts.sysdata,
    userdata: opts.userdata,
    caller: opts.caller === true,
    startSeq: opts.startSeq,
    ratePps: opts.rate,
    ramp: opts.ramp,
    burst: opts.burst,
    durationMs: opts.duration,
    count: opts.count,
    loss: opts.loss,
    reorder: opts.reorder,
    reorderDepth: opts.reorderDepth,
    duplicate: opts.duplicate,
    storm: opts.storm,
    stormAtMs: opts.stormAt,
    seed: opts.seed,
    truthFile: opts.truth,
    batch: opts.batch,
  };
  // The seed is chosen here (not inside runBlast) so it can be printed before the run starts.
  options.seed ??= Math.floor(Math.random() * 2 ** 32);
  const controller = new AbortController();
  // First Ctrl-C/SIGTERM: stop cleanly and report; a second one: leave at once.
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.stderr.write(`blast: seed ${options.seed}\n`);
  const totalMs = opts.duration ?? (opts.count === undefined ? 10_000 : undefined);
  const bar =
    opts.progress && process.stderr.isTTY
      ? new SingleBar({
          stream: process.stderr,
          format:
            totalMs !== undefined
              ? "{bar} {elapsedS}/{totalS} s | {ratePps} pps | sent {sent} | errors {errors} | messages {messages}"
              : "{bar} {value}/{total} messages | {ratePps} pps | sent {sent} | errors {errors} | {elapsedS} s",
          hideCursor: true,
          clearOnComplete: true,
          barsize: 20,
        })
      : null;
  bar?.start(totalMs ?? opts.count ?? 0, 0, {
    elapsedS: "0.0",
    totalS: ((totalMs ?? 0) / 1000).toFixed(0),
    ratePps: 0,
    sent: 0,
    errors: 0,
    messages: 0,
  });
  let report: BlastReport;
  try {
    report = await runBlast(options, {
      signal: controller.signal,
      onProgress: bar
        ? (p) =>
            bar.update(totalMs !== undefined ? Math.min(p.elapsedMs, totalMs) : p.messages, {
              elapsedS: (p.elapsedMs / 1000).toFixed(1),
              ratePps: Math.round(p.ratePps),
              sent: p.sent,
              errors: p.errors,
              messages: p.messages,
            })
        : undefined,
    });
  } catch (error) {
    if (error instanceof BlastOptionsError) throw new UsageError(error.message);
    // A failed run (a socket that cannot be bound...): one line; the stack with NCB_DEBUG=1.
    const e = error as Error;
    process.stderr.write(
      `netcons-bench: blast failed: ${process.env.NCB_DEBUG ? e.stack : (e.message ?? String(e))}\n`,
    );
    return EXIT.failure;
  } finally {
    bar?.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  process.stdout.write(formatSummary(report));
  if (opts.json) {
    try {
      writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`);
    } catch (error) {
      throw new UsageError(
        `cannot write --json ${opts.json}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      );
    }
  }
  return report.stopped === "signal" ? EXIT.interrupted : EXIT.ok;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

/** The human summary (every figure is also in the JSON report). */
export function formatSummary(r: BlastReport): string {
  const lines: string[] = [];
  const src =
    r.sources.first === null
      ? "one shared source address"
      : `${r.sources.first} .. ${r.sources.last}`;
  lines.push(`blast: seed ${r.seed}, stopped by ${r.stopped}`);
  for (const note of r.notes) lines.push(`  note: ${note}`);
  lines.push(
    `  target ${r.target} from ${fmt(r.hosts)} hosts (${src}), transport ${r.transport}, ${r.mainThread ? "sent from the main thread" : `${r.workers} worker${r.workers === 1 ? "" : "s"}`}`,
  );
  lines.push(
    `  messages ${fmt(r.messages)} (extended ${fmt(r.messagesExtended)}, legacy ${fmt(r.messagesLegacy)}${r.stormMessages ? `, storm ${fmt(r.stormMessages)}` : ""}), format ${r.format}, size ${r.size}${r.stamp ? "" : ", no stamp"}`,
  );
  lines.push(
    `  packets sent ${fmt(r.packets.sent)} (${fmt(r.fragmentsSent)} fragments, ${fmt(r.packets.bytes)} bytes), errors ${fmt(r.packets.errors)}${Object.keys(r.packets.errorsByCode).length ? ` ${JSON.stringify(r.packets.errorsByCode)}` : ""}`,
  );
  const target = r.rate.ramp
    ? `ramp ${fmt(r.rate.ramp[0])} -> ${fmt(r.rate.ramp[1])} pps`
    : r.rate.targetPps > 0
      ? `target ${fmt(r.rate.targetPps)} pps`
      : "unpaced";
  lines.push(
    `  duration ${(r.durationMs / 1000).toFixed(3)} s, achieved ${fmt(r.rate.achievedPps)} pps (${target}), send-loop CPU ${r.cpu.usPerPacket.toFixed(2)} µs per packet`,
  );
  if (r.latenessUs) {
    const l = r.latenessUs;
    lines.push(
      `  lateness of actual vs intended send time (µs): p50 ${fmt(l.p50)}, p90 ${fmt(l.p90)}, p99 ${fmt(l.p99)}, p99.9 ${fmt(l.p999)}, max ${fmt(l.max)}`,
    );
  }
  lines.push(
    `  injected: lost ${fmt(r.injected.lost)}, reordered ${fmt(r.injected.reordered)}, duplicated ${fmt(r.injected.duplicated)}`,
  );
  lines.push(
    `  expected at a perfect receiver (extended): delivered ${fmt(r.expected.messagesDelivered)}, missing ${fmt(r.expected.missing)}, duplicates ${fmt(r.expected.duplicates)}, out of order ${fmt(r.expected.outOfOrder)}`,
  );
  if (r.truthFile) lines.push(`  truth written to ${r.truthFile}`);
  return `${lines.join("\n")}\n`;
}
