/**
 * `netcons-bench bench`: micro-benchmarks of the hot paths and a short end-to-end loopback run,
 * a readable table, JSON for CI benchmark integrations, and a verdict against a saved baseline.
 * A thin layer over scenarios/bench/.
 */
import { readFileSync } from "node:fs";
import { type Command, InvalidArgumentError, Option } from "commander";
import { benchEndToEnd, E2E_DEFAULTS, type EndToEndResult } from "../bench/e2e.ts";
import {
  BASELINE_FORMAT,
  type Baseline,
  type Environment,
  type Measurement,
  parseBaseline,
  sameMachine,
  toActionFormat,
} from "../bench/format.ts";
import { type MachineLoad, watchMachine } from "../bench/machine.ts";
import { type CompareResult, compareResults, type Gate } from "../bench/regression-verdict.ts";
import {
  type BenchRun,
  runMicroBenchmarks,
  selectSuites,
  suiteList,
  suiteNames,
} from "../bench/run.ts";
import { QUICK_ROUNDS, ROUNDS } from "../bench/suite.ts";
import { comparisonTable, e2eSummary, resultsTable, verdictSummary } from "../bench/table.ts";
import { benchMarkdown, benchReport, junitXml } from "../ci-reports.ts";
import { count, durationUs, figure, percent } from "../format.ts";
import {
  choiceOption,
  durationOption,
  EXIT,
  errorLine,
  integerOption,
  UsageError,
} from "../options.ts";
import { checkWritable, humanOut, writeJson, writeText } from "../output-files.ts";
import { onInterrupt } from "../signals.ts";

export const REPORT_FORMAT = "netcons-bench/bench-report@1";

/** Defaults per mode: full (what CI should gate on) and quick (tests, smoke checks). */
const MODES = {
  full: {
    timeMs: 1000,
    warmupMs: 200,
    rounds: ROUNDS,
    e2eRuns: E2E_DEFAULTS.runs,
    e2eMessages: E2E_DEFAULTS.messages,
  },
  quick: { timeMs: 40, warmupMs: 10, rounds: QUICK_ROUNDS, e2eRuns: 2, e2eMessages: 2000 },
} as const;

export interface BenchCommandOptions {
  filter?: string;
  list?: boolean;
  quick?: boolean;
  time?: number;
  warmup?: number;
  rounds?: number;
  e2e: boolean;
  e2eRuns?: number;
  e2eMessages?: number;
  e2eRate: number;
  json?: string;
  jsonSmaller?: string;
  report?: string;
  summaryMd?: string;
  junit?: string;
  save?: string;
  baseline?: string;
  tolerance: number;
  gate: Gate | "auto";
}

/** `10`, `10%`, `2.5%`: a percentage (the `%` is optional); returns a fraction. */
export function percentOption(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(value);
  const n = m ? Number(m[1]) : Number.NaN;
  if (!Number.isFinite(n) || n > 1000) {
    throw new InvalidArgumentError("expected a percentage such as 10 or 10% (0 to 1000).");
  }
  return n / 100;
}

/** How every figure of a --quick run is labelled (in its `extra` text, JSON files included). */
export const QUICK_LABEL = "quick run, not comparable with a full run";

/** The one line under a --quick run's table: why its margins are wide and what it is for. */
export function quickNote(
  settings: { timeMs: number; rounds: number; e2e: { runs: number; messages: number } | null },
  measurements: readonly Measurement[],
): string {
  const widest = Math.max(0, ...measurements.map((m) => m.rmePercent));
  const e2e = settings.e2e
    ? ` and ${settings.e2e.runs} end-to-end runs of ${count(settings.e2e.messages)} messages`
    : "";
  return `--quick: ${durationUs(settings.timeMs * 1000)} per task in ${settings.rounds} rounds${e2e}, so margins reach ±${percent(widest / 100)}; a smoke check, not comparable with a full run (a full baseline refuses it)`;
}

/** One line on how busy the machine was during the run (also in the report as `machine`). */
export function machineLine(m: MachineLoad): string {
  const busy =
    m.busyPercent === null
      ? "busy share unknown (no /proc/stat)"
      : `${percent(m.busyPercent / 100)} busy${m.stealPercent ? `, ${percent(m.stealPercent / 100)} stolen by the hypervisor` : ""}`;
  return `machine during the run: ${busy} over all ${m.cpus} CPUs (this run included), load average ${figure(m.loadAverage1m)}`;
}

export function register(program: Command): void {
  program
    .command("bench")
    .description(
      "Benchmark the hot paths (tinybench, each also as a ratio to a fixed reference workload); compare with a baseline",
    )
    .option("--filter <suites>", "run only these suites (comma-separated, substrings of names)")
    .option("--list", "list the suites and exit")
    .option("--quick", "quick mode: short time per task (for tests and smoke checks)")
    .option(
      "--time <duration>",
      "time per task (default 1s; 40ms with --quick)",
      durationOption("--time"),
    )
    .option(
      "--warmup <duration>",
      "warm-up per task (default 200ms; 10ms with --quick)",
      durationOption("--warmup"),
    )
    .option(
      "--rounds <n>",
      `interleaved reference/task rounds per task, sharing its time (default ${ROUNDS}; ${QUICK_ROUNDS} with --quick)`,
      integerOption("--rounds", 1, 100),
    )
    .option("--no-e2e", "skip the end-to-end loopback run (blaster -> receiver)")
    .option(
      "--e2e-runs <n>",
      `end-to-end runs, for the spread and margin of error (default ${E2E_DEFAULTS.runs}; 2 with --quick)`,
      integerOption("--e2e-runs", 1, 100),
    )
    .option(
      "--e2e-messages <n>",
      `messages per end-to-end run (default ${E2E_DEFAULTS.messages}; 2000 with --quick)`,
      integerOption("--e2e-messages", 1, 100_000_000),
    )
    .option(
      "--e2e-rate <pps>",
      "offered rate of the end-to-end run, messages/s (keep it below what the machine sustains: loss is a finding)",
      integerOption("--e2e-rate", 1, 10_000_000),
      E2E_DEFAULTS.ratePps,
    )
    .option(
      "--json <file>",
      'write the bigger-is-better figures (github-action-benchmark "customBiggerIsBetter"); - = stdout',
    )
    .option(
      "--json-smaller <file>",
      'write the smaller-is-better figures ("customSmallerIsBetter"); - = stdout',
    )
    .option(
      "--report <file>",
      "write the full report (measurements, environment, comparison) as JSON",
    )
    .option(
      "--summary-md <file>",
      "write a Markdown summary (verdict per figure) for a pull-request comment or $GITHUB_STEP_SUMMARY; - = stdout",
    )
    .option(
      "--junit <file>",
      "write the verdicts as JUnit XML test cases (one per figure; a gated regression fails); - = stdout",
    )
    .option("--save <file>", "write these results as a baseline file")
    .option("--baseline <file>", "compare with a baseline file; a gated regression exits with 99")
    .addOption(
      new Option(
        "--tolerance <percent>",
        "allowed slowdown beyond the noise margin before a figure counts as a regression",
      )
        .argParser(percentOption)
        .default(0.1, "10%"),
    )
    .option(
      "--gate <figures>",
      "which figures decide the exit code: auto (both on the same machine, else ratio), absolute, ratio, both (a figure fails only if its absolute figure and its ratio both regressed)",
      choiceOption("--gate", ["auto", "absolute", "ratio", "both"] as const),
      "auto",
    )
    .action(async (options: BenchCommandOptions) => {
      process.exitCode = await benchCommand(options);
    });
}

function readBaseline(file: string): Baseline {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new UsageError(
      `--baseline ${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? error})`,
    );
  }
  try {
    return parseBaseline(text);
  } catch (error) {
    throw new UsageError(`--baseline ${file}: ${(error as Error).message}`);
  }
}

/**
 * auto: on the same machine (CPU model, core count, Node, platform) a figure fails only when its
 * absolute figure and its ratio both regressed, so a busier or throttled machine is not taken
 * for a slower build; across machines only the ratios mean something.
 */
export function resolveGate(
  gate: Gate | "auto",
  baseline: Environment,
  current: Environment,
): { gate: Gate; why: string } {
  if (gate !== "auto") return { gate, why: "--gate" };
  return sameMachine(baseline, current)
    ? {
        gate: "both",
        why: "auto: same CPU model, core count, Node and platform as the baseline",
      }
    : { gate: "ratio", why: "auto: the baseline comes from another machine or Node version" };
}

export async function benchCommand(options: BenchCommandOptions): Promise<number> {
  if (options.list) {
    for (const s of suiteList()) process.stdout.write(`${s.name.padEnd(12)} ${s.description}\n`);
    process.stdout.write(
      `${"e2e".padEnd(12)} runBlast into startReceiver on 127.0.0.1: delivered msgs/s, loss, p99, busy µs/msg\n`,
    );
    return EXIT.ok;
  }
  const outputs = [
    ["--json", options.json],
    ["--json-smaller", options.jsonSmaller],
    ["--report", options.report],
    ["--summary-md", options.summaryMd],
    ["--junit", options.junit],
    ["--save", options.save],
  ] as const;
  const toStdout = outputs.filter(([, file]) => file === "-").map(([flag]) => flag);
  if (toStdout.length > 1) {
    throw new UsageError(`${toStdout.join(" - and ")} -: only one of them can go to stdout`);
  }
  // "e2e" is selectable by --filter like a suite; --no-e2e drops it too.
  const allNames = [...suiteNames(), "e2e"];
  let selected = allNames;
  if (options.filter !== undefined) {
    const picked = selectSuites(options.filter.split(","), allNames);
    if (picked.unmatched.length > 0 || picked.selected.length === 0) {
      throw new UsageError(
        `--filter ${options.filter}: no suite matches ${picked.unmatched.join(", ") || "it"} (suites: ${allNames.join(", ")})`,
      );
    }
    selected = picked.selected;
  }
  if (!options.e2e) selected = selected.filter((n) => n !== "e2e");
  if (selected.length === 0) {
    throw new UsageError(`--filter ${options.filter} with --no-e2e: nothing is left to run`);
  }
  const suites = selected.filter((n) => n !== "e2e");
  const withE2e = selected.includes("e2e");
  // Read the baseline and check the output paths first: a bad file should fail in a second,
  // not after the benchmarks.
  const baseline = options.baseline ? readBaseline(options.baseline) : undefined;
  if (baseline && Boolean(baseline.settings.quick) !== Boolean(options.quick)) {
    throw new UsageError(
      baseline.settings.quick
        ? `--baseline ${options.baseline} was saved by a --quick run: its figures are not comparable with a full run's (run with --quick, or save a full baseline)`
        : `--baseline ${options.baseline} was saved by a full run: a --quick run's figures are not comparable with it (run without --quick, or save a --quick baseline)`,
    );
  }
  checkWritable(outputs);
  const mode = options.quick ? MODES.quick : MODES.full;
  const settings = {
    quick: Boolean(options.quick),
    timeMs: options.time ?? mode.timeMs,
    warmupMs: options.warmup ?? mode.warmupMs,
    rounds: options.rounds ?? mode.rounds,
    suites: selected,
    e2e: withE2e
      ? {
          runs: options.e2eRuns ?? mode.e2eRuns,
          messages: options.e2eMessages ?? mode.e2eMessages,
          ratePps: options.e2eRate,
          hosts: E2E_DEFAULTS.hosts,
          seed: E2E_DEFAULTS.seed,
          rcvbufBytes: E2E_DEFAULTS.rcvbufBytes,
        }
      : null,
  };
  // When stdout carries JSON, the table goes to stderr so the JSON stays parseable.
  const human = humanOut(...outputs.map(([, file]) => file));
  const progress = process.stderr.isTTY
    ? (line: string) => process.stderr.write(`\r\x1b[2K${line}`)
    : undefined;

  // How busy the machine was while the figures were taken (other work shows in every figure).
  const machineSince = watchMachine();
  // Ctrl-C / SIGTERM stop the run; what was measured is still reported and written.
  const controller = new AbortController();
  const release = onInterrupt(() => controller.abort());
  let run: BenchRun;
  let e2e: EndToEndResult | undefined;
  let e2eError: Error | undefined;
  try {
    run = await runMicroBenchmarks({
      suites,
      timeMs: settings.timeMs,
      warmupMs: settings.warmupMs,
      rounds: settings.rounds,
      signal: controller.signal,
      onProgress: (e) =>
        progress?.(
          `bench: ${e.phase === "start" ? "running" : "done"} ${e.suite} (${e.index + 1}/${e.of})`,
        ),
    });
    if (settings.e2e && !controller.signal.aborted) {
      const e2eOptions = settings.e2e;
      progress?.(`bench: end-to-end run 1/${e2eOptions.runs}`);
      try {
        const out = await benchEndToEnd(
          {
            ...e2eOptions,
            signal: controller.signal,
            onRun: (_r, i) => {
              if (i + 1 < e2eOptions.runs) {
                progress?.(`bench: end-to-end run ${i + 2}/${e2eOptions.runs}`);
              }
            },
          },
          { timeMs: settings.timeMs, warmupMs: settings.warmupMs },
        );
        e2e = out.result;
        run.measurements.push(...out.measurements);
        if (out.result.aborted) run.aborted = true;
        if (out.result.error) e2eError = new Error(out.result.error);
      } catch (error) {
        // The micro-benchmarks' figures are kept, written and compared; the run still fails.
        e2eError = new Error((error as Error)?.stack ?? String(error));
      }
    }
  } finally {
    release();
    progress?.("");
  }
  const measurements: Measurement[] = settings.quick
    ? run.measurements.map((m) => ({
        ...m,
        extra: [QUICK_LABEL, m.extra].filter(Boolean).join("; "),
      }))
    : run.measurements;

  const machine = machineSince();
  human.write(`${resultsTable(measurements)}\n`);
  human.write(`${machineLine(machine)}\n`);
  if (settings.quick) human.write(`${quickNote(settings, measurements)}\n`);
  if (e2e && e2e.runs.length > 0) human.write(`${e2eSummary(e2e)}\n`);
  let comparison: (CompareResult & { gate: Gate; why: string; tolerance: number }) | undefined;
  if (baseline) {
    const { gate, why } = resolveGate(options.gate, baseline.environment, run.environment);
    // Only the suites this run chose: a --filter run against a full baseline is not missing
    // the others.
    const ran = new Set(settings.suites);
    const relevant = baseline.measurements.filter((m) => ran.has(m.suite));
    const result = compareResults(relevant, measurements, {
      tolerance: options.tolerance,
      gate,
    });
    comparison = { ...result, gate, why, tolerance: options.tolerance };
    human.write(`\nbaseline ${options.baseline} (saved ${baseline.savedAt})\n`);
    human.write(
      `${comparisonTable(result)}\n${verdictSummary(result, gate, options.tolerance, why, human)}\n`,
    );
  }

  if (options.json) writeJson(options.json, toActionFormat(measurements, "bigger"));
  if (options.jsonSmaller) writeJson(options.jsonSmaller, toActionFormat(measurements, "smaller"));
  // A baseline must be whole: an interrupted or failed run is reported, never saved as one.
  const whole = !run.aborted && !e2eError;
  if (options.save && !whole) {
    human.write(`not saved to ${options.save}: the run was incomplete\n`);
  }
  if (options.save && whole) {
    const doc: Baseline = {
      format: BASELINE_FORMAT,
      savedAt: new Date().toISOString(),
      environment: run.environment,
      settings,
      measurements,
    };
    writeJson(options.save, doc);
  }
  if (options.report) {
    writeJson(options.report, {
      format: REPORT_FORMAT,
      environment: run.environment,
      settings,
      comparable: !settings.quick,
      machine,
      aborted: run.aborted,
      measurements,
      endToEnd: e2e ?? null,
      endToEndError: e2eError ? e2eError.message : null,
      comparison: comparison ?? null,
    });
  }
  const failure = run.aborted ? "interrupted" : e2eError?.message;
  if (options.summaryMd) {
    const notes = settings.quick ? [quickNote(settings, measurements)] : [];
    writeText(options.summaryMd, benchMarkdown(measurements, comparison, notes, failure));
  }
  if (options.junit) {
    writeText(options.junit, junitXml(benchReport(measurements, comparison, failure)));
  }
  if (run.aborted) {
    human.write("interrupted: the figures above cover what ran before the signal\n");
    return EXIT.interrupted;
  }
  if (e2eError) {
    process.stderr.write(
      errorLine(e2eError, "the end-to-end run failed (the figures above were kept)"),
    );
    return EXIT.failure;
  }
  if (comparison && !comparison.pass) return EXIT.thresholds;
  return EXIT.ok;
}
