/**
 * CI reports of a scenario run (its thresholds) and of a benchmark run (its verdicts): JUnit XML,
 * which CI systems show as test results, and Markdown for a pull-request comment or GitHub's
 * $GITHUB_STEP_SUMMARY. Pure builders: results in, text out (the commands write the files).
 */
import { XMLBuilder } from "fast-xml-parser";
import type { Measurement } from "./bench/format.ts";
import type { CompareResult } from "./bench/regression-verdict.ts";
import { count, durationUs, figure, percent, rate } from "./format.ts";
import { bestTrialOf, goalText, p99Of, type Results } from "./results.ts";

/** One check, as a JUnit test case and a Markdown row. */
export interface CiCase {
  /** The group it belongs to (a scenario point, a benchmark suite). */
  group: string;
  name: string;
  pass: boolean;
  /** One line for people: the threshold as evaluated, the figure against its baseline. */
  message: string;
}

/** A whole run as a list of checks, plus what stopped it when it did not finish. */
export interface CiReport {
  /** "netcons-bench run smoke", "netcons-bench bench". */
  title: string;
  cases: CiCase[];
  /** Why the run failed or stopped (the run itself, not a check): a JUnit <error>. */
  error?: string;
  /** ISO time the run started, when known. */
  startedAt?: string;
  /** Seconds the run took, when known. */
  seconds?: number;
}

/**
 * XML 1.0 cannot carry most control characters, not even escaped, and a netconsole message in an
 * error text may hold any byte: they become U+FFFD.
 */
function xmlSafe(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "\ufffd");
}

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  textNodeName: "#text",
  format: true,
  suppressEmptyNode: true,
});

/** JUnit XML (the common subset read by GitHub, GitLab, Jenkins and junit-report actions). */
export function junitXml(report: CiReport): string {
  const failures = report.cases.filter((c) => !c.pass).length;
  const errors = report.error === undefined ? 0 : 1;
  const testcases: Record<string, unknown>[] = report.cases.map((c) => ({
    "@classname": xmlSafe(c.group),
    "@name": xmlSafe(c.name),
    ...(c.pass
      ? { "system-out": xmlSafe(c.message) }
      : {
          failure: {
            "@message": xmlSafe(c.message),
            "@type": "failed",
            "#text": xmlSafe(c.message),
          },
        }),
  }));
  if (report.error !== undefined) {
    testcases.push({
      "@classname": xmlSafe(report.title),
      "@name": "the run completed",
      error: { "@message": xmlSafe(report.error), "@type": "run", "#text": xmlSafe(report.error) },
    });
  }
  const counts = {
    "@tests": testcases.length,
    "@failures": failures,
    "@errors": errors,
    ...(report.seconds === undefined ? {} : { "@time": report.seconds.toFixed(3) }),
  };
  return builder.build({
    "?xml": { "@version": "1.0", "@encoding": "UTF-8" },
    testsuites: {
      "@name": xmlSafe(report.title),
      ...counts,
      testsuite: {
        "@name": xmlSafe(report.title),
        ...counts,
        ...(report.startedAt === undefined ? {} : { "@timestamp": report.startedAt }),
        testcase: testcases,
      },
    },
  }) as string;
}

/** A Markdown table cell: one line, pipes escaped. */
function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").replaceAll("|", "\\|");
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** PASS/FAIL as a word a reader of a plain-text log also understands. */
function word(pass: boolean): string {
  return pass ? "✅ pass" : "❌ FAIL";
}

/**
 * Markdown: a heading with the overall verdict, `figures` (a table the caller chose, may be
 * empty), then every check, failed ones first, and the run's error when there is one.
 */
export function markdownSummary(
  report: CiReport,
  figures?: { header: string[]; rows: string[][] },
  notes: readonly string[] = [],
): string {
  const failed = report.cases.filter((c) => !c.pass);
  const pass = failed.length === 0 && report.error === undefined;
  const parts = [
    `### ${report.title}: ${pass ? "✅ passed" : "❌ failed"}`,
    `${count(report.cases.length)} checks, ${count(failed.length)} failed${report.error === undefined ? "" : "; the run did not complete"}.`,
  ];
  if (report.error !== undefined) parts.push(`**Error:** ${cell(report.error)}`);
  if (figures && figures.rows.length > 0) parts.push(table(figures.header, figures.rows));
  if (report.cases.length > 0) {
    const ordered = [...failed, ...report.cases.filter((c) => c.pass)];
    parts.push(
      table(
        ["", "group", "check", "result"],
        ordered.map((c) => [word(c.pass), c.group, c.name, c.message]),
      ),
    );
  }
  parts.push(...notes.filter((n) => n !== ""));
  return `${parts.join("\n\n")}\n`;
}

/** A scenario run's thresholds (per point, then the run's) as checks. */
export function scenarioReport(results: Results): CiReport {
  const name = results.scenario.name;
  const cases: CiCase[] = [];
  for (const p of results.points) {
    const group = `${name} / ${p.side ? `${p.side} ` : ""}${p.label}`;
    for (const o of p.thresholds) {
      cases.push({ group, name: o.threshold, pass: o.pass, message: o.message });
    }
  }
  for (const o of results.runThresholds) {
    cases.push({ group: `${name} / run`, name: o.threshold, pass: o.pass, message: o.message });
  }
  const { startedAt, finishedAt } = results.environment;
  const error =
    results.status === "failed"
      ? (results.error ?? "the run failed")
      : results.status === "interrupted"
        ? "interrupted before every trial had run"
        : results.status === "running"
          ? "cut off while trials were still running"
          : undefined;
  return {
    title: `netcons-bench run ${name}`,
    cases,
    ...(error === undefined ? {} : { error }),
    startedAt,
    ...(finishedAt === null
      ? {}
      : { seconds: (Date.parse(finishedAt) - Date.parse(startedAt)) / 1000 }),
  };
}

/** The scenario's Markdown: the points' main figures, the thresholds, the recommendation. */
export function scenarioMarkdown(results: Results): string {
  const rows = results.points.map((p) => {
    const t = bestTrialOf(results, p);
    return [
      `${p.side ? `${p.side} ` : ""}${p.label}`,
      p.search?.goals[0] ? goalText(p.search.goals[0]) : rate(t?.rate.deliveredPps),
      rate(t?.rate.targetPps),
      t ? `${count(t.loss.packets)} (${percent(t.loss.ratio)})` : "-",
      durationUs(p99Of(t)),
    ];
  });
  return markdownSummary(
    scenarioReport(results),
    { header: ["point", "delivered", "offered", "lost by the target", "p99"], rows },
    [
      `Plan \`${results.plan}\`, ${count(results.trials.length)} trials, seed ${results.environment.seed ?? "-"}.`,
      results.recommendation,
    ],
  );
}

/**
 * A benchmark run as checks: with a baseline, one per compared figure (failing when it fails
 * the run: a gated regression); without one, one per measurement (they pass: nothing to judge).
 */
export function benchReport(
  measurements: readonly Measurement[],
  comparison: CompareResult | undefined,
  error?: string,
): CiReport {
  const suiteOf = (name: string) => name.split("/")[0];
  const cases: CiCase[] = comparison
    ? comparison.comparisons.map((c) => ({
        group: suiteOf(c.name),
        name: c.name,
        pass: !c.failed,
        message: `${c.verdict}: ${withUnit(c.old, c.unit)} -> ${withUnit(c.new, c.unit)}${c.speed === undefined ? "" : ` (speed x${figure(c.speed)})`}, margin ±${percent(c.margin)}${c.gated ? "" : ", not gated"}`,
      }))
    : measurements.map((m) => ({
        group: m.suite,
        name: m.name,
        pass: true,
        message: `${withUnit(m.value, m.unit)} ±${percent(m.rmePercent / 100)}`,
      }));
  return { title: "netcons-bench bench", cases, ...(error === undefined ? {} : { error }) };
}

function withUnit(value: number | undefined, unit: string): string {
  return value === undefined ? figure(value) : `${figure(value)} ${unit}`;
}

/** The benchmark's Markdown: the verdict, then each figure (failed first). */
export function benchMarkdown(
  measurements: readonly Measurement[],
  comparison: CompareResult | undefined,
  notes: readonly string[] = [],
  error?: string,
): string {
  return markdownSummary(benchReport(measurements, comparison, error), undefined, notes);
}
