/**
 * `netcons-bench merge`: the reports of a load's shards (`blast --shard I/N` --json files, from
 * many processes or machines) combined into the report of the whole load, and their truth
 * files into its truth file; or the reports of receivers that took parts of one load
 * (`receive --json`) into one receiver report. A thin layer over blaster/report-merge.ts,
 * receiver/report-merge.ts and blaster/truth.ts: reading and recognising the files, output
 * paths, summary.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import type { Command } from "commander";
import { type BlastReport, blastReportSchema } from "../../blaster/blast-report.ts";
import { mergeBlastReports, type NamedReport } from "../../blaster/report-merge.ts";
import { mergeTruths, parseTruth, type Truth, writeTruth } from "../../blaster/truth.ts";
import { type ReceiverReport, receiverReportSchema } from "../../receiver/receiver-report.ts";
import { formatReport } from "../../receiver/report.ts";
import { mergeReceiverReports, type NamedReceiverReport } from "../../receiver/report-merge.ts";
import { EXIT, UsageError } from "../options.ts";
import { checkWritable, humanOut, writeJson } from "../output-files.ts";
import { formatSummary } from "./blast.ts";

interface MergeOptions {
  json?: string;
  truth?: string;
}

type Input =
  | { kind: "blast"; report: BlastReport }
  | { kind: "receiver"; report: ReceiverReport; ledger: boolean }
  | { kind: "truth"; truth: Truth };

const RECEIVER_TOOL = receiverReportSchema.shape.tool.value;

/** A receiver report (`receive --json`, its loss ledger, if any, set aside); else a usage error. */
function readReceiverReport(file: string, whole: object): Input {
  const { ledger, ...report } = whole as { ledger?: unknown };
  const parsed = receiverReportSchema.safeParse(report);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(
      `${file} is not a receiver report of this version (receive --json): ${issue.path.join(".") || "report"}: ${issue.message}`,
    );
  }
  return { kind: "receiver", report: parsed.data, ledger: ledger !== undefined };
}

/**
 * What a file holds: a blast report or a receiver report (JSON), or a truth file (JSON Lines);
 * else a usage error.
 */
function readInput(file: string): Input {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    try {
      return { kind: "truth", truth: parseTruth(text, file) };
    } catch (error) {
      throw new UsageError(
        `${file} is neither a blast report (JSON) nor a truth file: ${(error as Error).message}`,
      );
    }
  }
  if (typeof whole === "object" && whole !== null && (whole as { kind?: unknown }).kind === "run") {
    return { kind: "truth", truth: parseTruth(text, file) }; // a truth file of one line
  }
  if (
    typeof whole === "object" &&
    whole !== null &&
    (whole as { tool?: unknown }).tool === RECEIVER_TOOL
  ) {
    return readReceiverReport(file, whole);
  }
  const parsed = blastReportSchema.safeParse(whole);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(
      `${file} is not a blast report (blast --json): ${issue.path.join(".") || "report"}: ${issue.message}`,
    );
  }
  return { kind: "blast", report: parsed.data };
}

/** A report's truth file: as written, or next to the report (files copied together). */
function truthFileOf(reportFile: string, report: BlastReport): string | null {
  if (!report.truthFile) return null;
  if (existsSync(report.truthFile)) return report.truthFile;
  const beside = isAbsolute(report.truthFile)
    ? join(dirname(reportFile), report.truthFile.split("/").pop() ?? "")
    : join(dirname(reportFile), report.truthFile);
  return existsSync(beside) ? beside : null;
}

export function register(program: Command): void {
  program
    .command("merge")
    .description(
      "Combine the blast reports of a load's shards (blast --shard I/N --json, from many " +
        "processes or machines) into one report of the same shape: counts summed, lateness " +
        "histograms merged; truth files (given, or named by the reports) into one truth file. " +
        "Refuses files that are not every shard of one load (seed, plan). Or combine receiver " +
        "reports (receive --json) of receivers that took parts of one load: counts summed, " +
        "latency histograms merged, advice and loss ledger left out; refuses receivers with " +
        "different settings (sequence window, timeouts, limits).",
    )
    .argument(
      "<files...>",
      "blast --json reports and, optionally, their --truth files; or receive --json reports",
    )
    .option(
      "--json <file>",
      "write the merged report as JSON (- = stdout, which then holds only the JSON)",
    )
    .option("--truth <file>", "write the merged truth (JSON Lines) of the shards' truth files")
    .action(async (files: string[], opts: MergeOptions) => {
      process.exitCode = await merge(files, opts);
    });
}

async function merge(files: string[], opts: MergeOptions): Promise<number> {
  checkWritable([
    ["--json", opts.json],
    ["--truth", opts.truth],
  ]);
  const reports: NamedReport[] = [];
  const receivers: NamedReceiverReport[] = [];
  const truths: { name: string; truth: Truth }[] = [];
  let ledgers = 0;
  for (const file of files) {
    const input = readInput(file);
    if (input.kind === "blast") reports.push({ name: file, report: input.report });
    else if (input.kind === "receiver") {
      receivers.push({ name: file, report: input.report });
      if (input.ledger) ledgers++;
    } else truths.push({ name: file, truth: input.truth });
  }
  if (receivers.length > 0) {
    if (reports.length > 0 || truths.length > 0 || opts.truth) {
      const other = reports[0]?.name ?? truths[0]?.name ?? "--truth";
      throw new UsageError(
        `${receivers[0].name} is a receiver report and ${other} ${other === "--truth" ? "asks for a truth file" : "is not"}: merge blast reports (and truth files) or receiver reports, not both`,
      );
    }
    return mergeReceivers(receivers, ledgers, opts);
  }
  if (reports.length === 0) throw new UsageError("no blast report among the files (blast --json)");
  if (opts.truth && truths.length === 0) {
    for (const { name, report } of reports) {
      const file = truthFileOf(name, report);
      if (!file) {
        throw new UsageError(
          `--truth: ${name} names no truth file that exists here (${report.truthFile ?? "none"}); give the truth files as arguments`,
        );
      }
      const input = readInput(file);
      if (input.kind !== "truth") throw new UsageError(`${file} is not a truth file`);
      truths.push({ name: file, truth: input.truth });
    }
  }
  let report: BlastReport;
  let truth: Truth | null = null;
  try {
    report = await mergeBlastReports(reports);
    if (truths.length > 0) {
      truth = mergeTruths(truths);
      if (truth.run.seed !== report.seed || truth.run.messages !== report.messages) {
        throw new Error(
          `the truth files (seed ${truth.run.seed}, ${truth.run.messages} messages) are not those of the reports (seed ${report.seed}, ${report.messages} messages)`,
        );
      }
    }
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (truth && opts.truth) {
    await writeTruth(opts.truth, truth.run, truth.hosts);
    report.truthFile = opts.truth;
  }
  humanOut(opts.json).write(formatSummary(report));
  if (opts.json) writeJson(opts.json, report);
  return EXIT.ok;
}

/** Receiver reports merged into one (see receiver/report-merge.ts), summary and JSON written. */
function mergeReceivers(
  receivers: NamedReceiverReport[],
  ledgers: number,
  opts: MergeOptions,
): number {
  let report: ReceiverReport;
  try {
    report = mergeReceiverReports(receivers);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const human = humanOut(opts.json);
  human.write(formatReport(report));
  if (ledgers > 0) {
    human.write(
      `loss ledger left out: each one compared a single receiver with its own blaster's report\n`,
    );
  }
  if (opts.json) writeJson(opts.json, report);
  return EXIT.ok;
}
