/**
 * `netcons-bench receive`: the paired full receiver. A thin layer over receiver/receive.ts
 * (runReceiver): options, live line, NDJSON progress, final report, JSON and HDR files, signals.
 */
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { type Command, InvalidArgumentError, Option } from "commander";
import { extendedHosts, readTruth } from "../../blaster/truth.ts";
import { formatLedger, type Ledger, reconcile } from "../../receiver/ledger.ts";
import {
  defaultText,
  flagOf,
  RECEIVER_FLAGS,
  type RunOptions,
  receiverRunOptionsSchema,
  resolveReceiverOptions,
} from "../../receiver/options.ts";
import { type ReceiverReport, type RunningReceiver, runReceiver } from "../../receiver/receive.ts";
import { formatProgress, formatReport } from "../../receiver/report.ts";
import { EXIT, errorLine, UsageError } from "../options.ts";
import { checkWritable, humanOut, writeJson } from "../output-files.ts";
import { onInterrupt } from "../signals.ts";

type ReceiveOptions = Record<RunKey, string> & {
  json?: string;
  ndjson?: string;
  hdr?: string;
  truth?: string;
  blastReport?: string;
  progress?: boolean;
};

type RunKey = keyof typeof RECEIVER_FLAGS;

/**
 * A flag built from the receiver's options schema: help text, default and check in one place.
 * The value stays the text given (checked here, so a bad one is a usage error naming the flag);
 * runReceiver parses it through the same schema.
 */
function schemaOption(key: RunKey): Option {
  const field = receiverRunOptionsSchema.shape[key];
  const { short, arg } = RECEIVER_FLAGS[key];
  const flags = `${short ? `-${short}, ` : ""}${flagOf(key)} <${arg}>`;
  const fallback = defaultText(key, field.parse(undefined));
  return new Option(flags, field.description)
    .argParser((value: string) => {
      const parsed = field.safeParse(value);
      if (parsed.success) return value;
      throw new InvalidArgumentError(`${parsed.error.issues[0]?.message ?? "invalid value"}.`);
    })
    .default(fallback, fallback);
}

/** Writes the three HdrHistogram percentile files: FILE (end to end), FILE.queue, FILE.processing. */
function writeHdrFiles(
  file: string,
  texts: { endToEnd: string; queue: string; processing: string },
): void {
  writeFileSync(file, texts.endToEnd);
  writeFileSync(`${file}.queue`, texts.queue);
  writeFileSync(`${file}.processing`, texts.processing);
}

export function register(program: Command): void {
  program
    .command("receive")
    .description(
      "Receive netconsole traffic like netconsd (SO_REUSEPORT listeners, workers by source address) " +
        "and report what arrived, what was lost where, and how late: per-host sequence tracking, " +
        "kernel and queue drops, latency histograms, tuning advice.",
    )
    .addOption(schemaOption("listeners"))
    .addOption(schemaOption("workers"))
    .addOption(schemaOption("bind"))
    .addOption(schemaOption("port"))
    .addOption(schemaOption("rcvbuf"))
    .addOption(schemaOption("queueLimit"))
    .addOption(schemaOption("msgTimeout"))
    .addOption(schemaOption("oosTimeout"))
    .addOption(schemaOption("seqWindow"))
    .addOption(schemaOption("maxHosts"))
    .addOption(schemaOption("hostIdle"))
    .addOption(schemaOption("maxMessageBytes"))
    .addOption(schemaOption("fragTimeout"))
    .addOption(schemaOption("batchDelay"))
    .addOption(schemaOption("ringBytes"))
    .addOption(schemaOption("listener"))
    .addOption(schemaOption("output"))
    .addOption(schemaOption("duration"))
    .addOption(schemaOption("idleExit"))
    .addOption(schemaOption("interval"))
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
      // The flags' text, checked already: runReceiver parses it through the same schema.
      const options = Object.fromEntries(
        Object.keys(RECEIVER_FLAGS).map((key) => [key, opts[key as RunKey]]),
      ) as RunOptions;
      const resolved = resolveReceiverOptions(options);
      if (opts.json === "-" && resolved.output.kind === "print") {
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
      let running: RunningReceiver | undefined;
      let reportWritten = false;
      const release = onInterrupt(
        (name) => {
          process.stderr.write(`\nreceive: ${name}, stopping and writing the report\n`);
          controller.abort(name);
        },
        (name) => {
          // A second signal exits at once: the report from the live counters stands in for the
          // one still being made, so the --json file is never left empty.
          if (reportWritten || !running || !opts.json) return;
          writeJson(opts.json, running.liveReport(`${name} twice`));
          process.stderr.write(`receive: ${name} again, report from the live counters written\n`);
        },
      );
      let report: ReceiverReport;
      let percentiles: ReturnType<
        Awaited<ReturnType<typeof runReceiver>>["receiver"]["percentiles"]
      >;
      try {
        const done = await runReceiver(options, {
          signal: controller.signal,
          truth: () => {
            if (!opts.truth) return undefined;
            try {
              return extendedHosts(readTruth(opts.truth));
            } catch (error) {
              process.stderr.write(errorLine(error, `receive: --truth ${opts.truth} not used`));
              return undefined;
            }
          },
          onStarted: (r) => {
            running = r;
            process.stderr.write(
              `receive: listening on [${r.address}]:${r.port} with ${resolved.listeners} listener(s), ${resolved.workers} worker(s)\n`,
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
        });
        report = done.report;
        // The percentile text is costly: only made when it is written.
        percentiles = opts.hdr ? done.receiver.percentiles() : null;
      } catch (error) {
        release();
        const e = error as Error;
        if (/cannot listen/.test(e.message)) throw new UsageError(e.message);
        throw error;
      }
      // With --output print the messages own stdout, with --json - the JSON does: the human
      // report then goes to stderr.
      const human = resolved.output.kind === "print" ? process.stderr : humanOut(opts.json);
      human.write(formatReport(report));
      let ledger: Ledger | undefined;
      if (opts.blastReport) {
        try {
          ledger = reconcile(JSON.parse(readFileSync(opts.blastReport, "utf8")), report);
          human.write(formatLedger(ledger));
        } catch (error) {
          process.stderr.write(
            errorLine(error, `receive: --blast-report ${opts.blastReport} not used`),
          );
        }
      }
      if (opts.json) writeJson(opts.json, ledger ? { ...report, ledger } : report);
      reportWritten = true;
      release();
      if (opts.hdr && percentiles) writeHdrFiles(opts.hdr, percentiles);
      // A thread that crashed or a sink that failed: the run failed (its figures are still there).
      if (report.failures.length > 0) process.exitCode = EXIT.failure;
      if (controller.signal.aborted) process.exitCode = EXIT.interrupted;
    });
}
