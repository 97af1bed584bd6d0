/**
 * `netcons-bench run FILE`: runs a scenario file. A thin layer over runScenario (runner.ts):
 * parse flags, install the Ctrl-C handler, show the live view, print the table and the
 * thresholds, set the exit code (0 ok, 2 bad scenario, 99 a threshold failed, 130 interrupted,
 * 1 the run failed).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { junitXml, scenarioMarkdown, scenarioReport } from "../ci-reports.ts";
import { verdict } from "../format.ts";
import { liveView } from "../live.ts";
import { EXIT, errorLine, UsageError } from "../options.ts";
import { checkWritable, humanOut, writeJson, writeText } from "../output-files.ts";
import { resultsTable } from "../results.ts";
import { runScenario } from "../runner.ts";
import { loadScenario } from "../scenario-loader.ts";
import { onInterrupt } from "../signals.ts";

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function timestamp(d = new Date()): string {
  return d.toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-");
}

interface RunOptions {
  outDir?: string;
  set: string[];
  json?: string;
  summaryMd?: string;
  junit?: string;
}

export function register(program: Command): void {
  program
    .command("run")
    .description(
      "Run a scenario file (YAML): start the target, drive the blaster's load into it, check thresholds, write results.json and report.html",
    )
    .argument("<file>", "scenario file, e.g. scenarios/smoke.yaml")
    .option(
      "--out-dir <dir>",
      "output directory for results.json, report.html and the target's logs (default results/<scenario>-<timestamp>)",
    )
    .option(
      "-s, --set <key=value>",
      "override a scenario value by its key path, value read as YAML (repeatable): --set load.rate=20000 --set plan.grid.workers=[1,2]",
      collect,
      [] as string[],
    )
    .option(
      "--json <file>",
      "also write results.json to FILE; - = stdout (the table then goes to stderr)",
    )
    .option(
      "--summary-md <file>",
      "write a Markdown summary (thresholds, figures) for a pull-request comment or $GITHUB_STEP_SUMMARY; - = stdout",
    )
    .option(
      "--junit <file>",
      "write the thresholds as JUnit XML test cases (for CI test reports); - = stdout",
    )
    .addHelpText(
      "after",
      `
Exit codes: 0 every threshold held; 2 bad scenario file or --set; 99 a threshold failed;
130 interrupted (Ctrl-C: the results so far are written); 1 the run failed (target would not start...).
Bundled scenarios: scenarios/smoke.yaml, impairment-oracle.yaml, thread-sweep.yaml, panic-storm.yaml,
host-scale.yaml, soak.yaml, ci-regression.yaml.`,
    )
    .action(async (file: string, opts: RunOptions) => {
      const loaded = loadScenario(file, opts.set);
      checkWritable([
        ["--json", opts.json],
        ["--summary-md", opts.summaryMd],
        ["--junit", opts.junit],
      ]);
      const outDir = opts.outDir ?? join("results", `${loaded.scenario.name}-${timestamp()}`);
      try {
        mkdirSync(outDir, { recursive: true });
      } catch (error) {
        throw new UsageError(
          `cannot create --out-dir ${outDir}: ${(error as NodeJS.ErrnoException).code ?? error}`,
        );
      }
      const controller = new AbortController();
      const release = onInterrupt(
        (signal) => {
          process.stderr.write(
            `\n${signal}: stopping after the current trial, writing the results so far\n`,
          );
          controller.abort();
        },
        // results.json already holds every finished trial.
        (signal) =>
          process.stderr.write(
            `\n${signal} again: exiting; ${join(outDir, "results.json")} has the finished trials\n`,
          ),
      );
      let results: Awaited<ReturnType<typeof runScenario>>;
      try {
        results = await runScenario(loaded, {
          outDir,
          sets: opts.set,
          signal: controller.signal,
          onEvent: liveView(),
        });
      } finally {
        release();
      }
      if (opts.json !== undefined) writeJson(opts.json, results);
      {
        const out = humanOut(opts.json, opts.summaryMd, opts.junit);
        const mark = (pass: boolean) =>
          pass ? `  ${verdict("ok", true, out)}  ` : `  ${verdict("FAIL", false, out)}`;
        const lines = [
          `${results.scenario.name}: plan ${results.plan}, seed ${results.environment.seed ?? "-"}, ${results.trials.length} trial(s)`,
          resultsTable(results),
          "",
          ...results.points.flatMap((p) =>
            p.thresholds.map(
              (o) => `${mark(o.pass)} [${p.side ? `${p.side} ` : ""}${p.label}] ${o.message}`,
            ),
          ),
          ...results.runThresholds.map((o) => `${mark(o.pass)} ${o.message}`),
          "",
          results.recommendation,
          `results: ${join(outDir, "results.json")}  report: ${join(outDir, "report.html")}`,
        ];
        out.write(`${lines.join("\n")}\n`);
      }
      if (opts.summaryMd !== undefined) writeText(opts.summaryMd, scenarioMarkdown(results));
      if (opts.junit !== undefined) writeText(opts.junit, junitXml(scenarioReport(results)));
      if (results.status === "failed") {
        process.stderr.write(errorLine(results.error, "run failed"));
        process.exitCode = EXIT.failure;
      } else if (results.status === "interrupted") {
        process.exitCode = EXIT.interrupted;
      } else if (!results.passed) {
        process.stderr.write(
          errorLine(`${results.failedThresholds.length} threshold(s) failed`, "run"),
        );
        process.exitCode = EXIT.thresholds;
      } else {
        process.exitCode = EXIT.ok;
      }
    });
}
