/**
 * `netcons-bench receive`: the paired full receiver. A thin layer over receiver/receive.ts
 * (runReceiver): options, live line, NDJSON progress, final report, JSON and HDR files, signals.
 */
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { type Command, InvalidArgumentError, Option } from "commander";
import { formatLedger, type Ledger, readBlastTruth, reconcile } from "../../receiver/ledger.ts";
import { type ReceiverReport, runReceiver, writeHdrFiles } from "../../receiver/receive.ts";
import { formatProgress, formatReport } from "../../receiver/report.ts";
import { type OutputSpec, parseOutputSpec } from "../../receiver/sinks.ts";
import { choiceOption, durationOption, EXIT, integerOption, UsageError } from "../options.ts";
import { checkWritable, writeJson } from "../output-files.ts";
import { onInterrupt } from "../signals.ts";

interface ReceiveOptions {
  listeners: number;
  workers: number;
  bind: string;
  port: number;
  rcvbuf: number;
  queueLimit: number;
  msgTimeout: number;
  oosTimeout: number;
  seqWindow: number;
  maxHosts: number;
  hostIdle: number;
  maxMessageBytes: number;
  fragTimeout: number;
  batchDelay: number;
  listener: "auto" | "native" | "dgram";
  output: OutputSpec;
  duration: number;
  idleExit: number;
  interval: number;
  json?: string;
  ndjson?: string;
  hdr?: string;
  truth?: string;
  blastReport?: string;
  progress?: boolean;
}

function addressOption(value: string): string {
  if (isIP(value) === 0) throw new InvalidArgumentError("expected an IPv4 or IPv6 address.");
  return value;
}

function outputOption(value: string): OutputSpec {
  try {
    return parseOutputSpec(value);
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message}.`);
  }
}

function seqWindowOption(value: string): number {
  const n = integerOption("--seq-window", 32, 1 << 20)(value);
  if (n % 32 !== 0) throw new InvalidArgumentError("expected a multiple of 32 from 32 to 1048576.");
  return n;
}

export function register(program: Command): void {
  program
    .command("receive")
    .description(
      "Receive netconsole traffic like netconsd (SO_REUSEPORT listeners, workers by source address) " +
        "and report what arrived, what was lost where, and how late: per-host sequence tracking, " +
        "kernel and queue drops, latency histograms, tuning advice.",
    )
    .option(
      "-l, --listeners <n>",
      "listener threads, one socket each",
      integerOption("--listeners", 1, 64),
      1,
    )
    .option(
      "-w, --workers <n>",
      "worker threads (hosts hashed by address)",
      integerOption("--workers", 1, 64),
      2,
    )
    .option("-b, --bind <address>", "listen address (:: is dual-stack)", addressOption, "::")
    .option(
      "-p, --port <port>",
      "UDP port (0 = any free port)",
      integerOption("--port", 0, 65535),
      1514,
    )
    .option(
      "--rcvbuf <bytes>",
      "SO_RCVBUF to ask for, 0 = system default (the granted size is reported)",
      integerOption("--rcvbuf", 0, 1 << 30),
      0,
    )
    .option(
      "--queue-limit <n>",
      "datagrams in flight per worker before drops",
      integerOption("--queue-limit", 1, 1 << 30),
      65536,
    )
    .addOption(
      new Option("--msg-timeout <duration>", "give a sequence hole up after this long")
        .argParser(durationOption("--msg-timeout"))
        .default(200, "200ms"),
    )
    .addOption(
      new Option("--oos-timeout <duration>", "emit out-of-sequence messages after this long")
        .argParser(durationOption("--oos-timeout"))
        .default(200, "200ms"),
    )
    .option("--seq-window <n>", "sequence slots per host (multiple of 32)", seqWindowOption, 512)
    .option(
      "--max-hosts <n>",
      "hosts tracked at once; the least recently seen is evicted",
      integerOption("--max-hosts", 1, 1e8),
      1_000_000,
    )
    .addOption(
      new Option("--host-idle <duration>", "evict a host silent this long, 0 = never")
        .argParser(durationOption("--host-idle"))
        .default(0, "0"),
    )
    .option(
      "--max-message-bytes <n>",
      "largest ncfrag total accepted",
      integerOption("--max-message-bytes", 1, 1 << 24),
      8192,
    )
    .addOption(
      new Option(
        "--frag-timeout <duration>",
        "give an incomplete fragmented message up after this long",
      )
        .argParser(durationOption("--frag-timeout"))
        .default(5000, "5s"),
    )
    .addOption(
      new Option(
        "--batch-delay <duration>",
        "longest a datagram waits in a listener's batch for the worker (0 = until the read burst ends)",
      )
        .argParser(durationOption("--batch-delay"))
        .default(1, "1ms"),
    )
    .addOption(
      new Option(
        "--listener <kind>",
        "how listeners read: native (recvmmsg batches, needs the addon), dgram (Node, one event per datagram), auto = native where built",
      )
        .argParser(choiceOption("--listener", ["auto", "native", "dgram"] as const))
        .default("auto"),
    )
    .addOption(
      new Option("-o, --output <sink>", "messages to none, print, jsonl:FILE or dir:PATH")
        .argParser(outputOption)
        .default({ kind: "none" }, "none"),
    )
    .addOption(
      new Option("-d, --duration <duration>", "stop after this long, 0 = until Ctrl-C")
        .argParser(durationOption("--duration"))
        .default(0, "0"),
    )
    .addOption(
      new Option(
        "--idle-exit <duration>",
        "stop once nothing has arrived for this long (plain number = seconds), 0 = never",
      )
        .argParser(durationOption("--idle-exit"))
        .default(0, "0"),
    )
    .addOption(
      new Option("--interval <duration>", "live line and NDJSON interval")
        .argParser(durationOption("--interval"))
        .default(1000, "1s"),
    )
    .option(
      "--truth <file>",
      "the blaster's --truth file, read at the end: missing then includes losses at stream edges",
    )
    .option(
      "--blast-report <file>",
      "the blaster's --json report, read at the end: adds the loss ledger to the report",
    )
    .option("--json <file>", "write the final report as JSON (- = stdout)")
    .option("--ndjson <file>", "append one JSON progress object per interval")
    .option(
      "--hdr <file>",
      "write HdrHistogram percentile text: FILE end-to-end, FILE.queue, FILE.processing",
    )
    .option("--progress", "live line even when stderr is not a TTY")
    .action(async (opts: ReceiveOptions) => {
      if (opts.interval <= 0) throw new UsageError("--interval must be above 0");
      if (opts.json === "-" && opts.output.kind === "print") {
        throw new UsageError(
          "--json - with -o print: the report would be mixed into the messages on stdout",
        );
      }
      checkWritable([
        ["--ndjson", opts.ndjson],
        ["--json", opts.json],
        ["--hdr", opts.hdr],
      ]);
      // Start the files empty: progress lines are appended during the run, and a report left
      // from an earlier run must not pass for this one's if this run fails.
      for (const file of [opts.ndjson, opts.json, opts.hdr]) {
        if (file && file !== "-") writeFileSync(file, "");
      }
      const live = opts.progress || process.stderr.isTTY;
      const controller = new AbortController();
      const release = onInterrupt((name) => {
        process.stderr.write(`\nreceive: ${name}, stopping and writing the report\n`);
        controller.abort(name);
      });
      let report: ReceiverReport;
      let percentiles: ReturnType<
        Awaited<ReturnType<typeof runReceiver>>["receiver"]["percentiles"]
      >;
      try {
        const done = await runReceiver(
          {
            bind: opts.bind,
            port: opts.port,
            listeners: opts.listeners,
            workers: opts.workers,
            rcvbuf: opts.rcvbuf,
            queueLimit: opts.queueLimit,
            msgTimeoutMs: opts.msgTimeout,
            oosTimeoutMs: opts.oosTimeout,
            seqWindow: opts.seqWindow,
            maxHosts: opts.maxHosts,
            hostIdleMs: opts.hostIdle,
            maxMessageBytes: opts.maxMessageBytes,
            fragmentTimeoutMs: opts.fragTimeout,
            batchDelayMs: opts.batchDelay,
            listener: opts.listener,
            output: opts.output,
            durationMs: opts.duration,
            idleExitMs: opts.idleExit,
            intervalMs: opts.interval,
          },
          {
            signal: controller.signal,
            truth: () => {
              if (!opts.truth) return undefined;
              try {
                return readBlastTruth(opts.truth);
              } catch (error) {
                process.stderr.write(
                  `receive: --truth ${opts.truth} not used: ${(error as Error).message}\n`,
                );
                return undefined;
              }
            },
            onStarted: (r) => {
              process.stderr.write(
                `receive: listening on [${r.address}]:${r.port} with ${opts.listeners} listener(s), ${opts.workers} worker(s)\n`,
              );
            },
            // Without a watcher the receiver skips the per-interval histogram merge.
            onProgress:
              live || opts.ndjson
                ? (p) => {
                    if (live) process.stderr.write(`${formatProgress(p)}\n`);
                    if (opts.ndjson) appendFileSync(opts.ndjson, `${JSON.stringify(p)}\n`);
                  }
                : undefined,
          },
        );
        report = done.report;
        // The percentile text is costly: only made when it is written.
        percentiles = opts.hdr ? done.receiver.percentiles() : null;
      } catch (error) {
        const e = error as Error;
        if (/cannot listen/.test(e.message)) throw new UsageError(e.message);
        throw error;
      } finally {
        release();
      }
      // With --output print the messages own stdout; the report then goes to stderr.
      const human = opts.output.kind === "print" ? process.stderr : process.stdout;
      human.write(formatReport(report));
      let ledger: Ledger | undefined;
      if (opts.blastReport) {
        try {
          ledger = reconcile(JSON.parse(readFileSync(opts.blastReport, "utf8")), report);
          human.write(formatLedger(ledger));
        } catch (error) {
          process.stderr.write(
            `receive: --blast-report ${opts.blastReport} not used: ${(error as Error).message}\n`,
          );
        }
      }
      if (opts.json) writeJson(opts.json, ledger ? { ...report, ledger } : report);
      if (opts.hdr && percentiles) writeHdrFiles(opts.hdr, percentiles);
      if (controller.signal.aborted) process.exitCode = EXIT.interrupted;
    });
}
