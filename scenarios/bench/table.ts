/**
 * Readable tables of benchmark results and of a baseline comparison. Pure (strings in, strings
 * out) so the command stays thin and the layout is testable.
 */

import {
  count,
  durationUs,
  figure,
  percent as fmtPercent,
  MISSING,
  rate,
  verdict,
} from "../format.ts";
import type { EndToEndResult } from "./e2e.ts";
import type { Measurement } from "./format.ts";
import type { CompareResult, Comparison, Gate } from "./regression-verdict.ts";

/** Left-aligns the first column, right-aligns the rest. */
export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/**
 * One row per benchmark: its absolute figure, and its ratio to the reference next to it (the
 * ratio measurement is folded into its absolute figure's row).
 */
export function resultsTable(measurements: readonly Measurement[]): string {
  const ratios = new Map<string, Measurement>();
  for (const m of measurements) if (m.kind === "ratio") ratios.set(m.name, m);
  const rows: string[][] = [];
  for (const m of measurements) {
    if (m.kind === "ratio") continue;
    const ratio = ratios.get(`${m.name} vs reference`);
    rows.push([
      m.kind === "reference" ? `${m.name} (reference workload)` : m.name,
      figure(m.value),
      m.unit,
      `±${fmtPercent(m.rmePercent / 100)}`,
      ratio ? figure(ratio.value) : "-",
    ]);
  }
  return renderTable(["benchmark", "value", "unit", "±rme", "x reference"], rows);
}

const VERDICT_TEXT: Record<Comparison["verdict"], string> = {
  regression: "REGRESSION",
  slower: "slower (within tolerance)",
  same: "same (within noise)",
  faster: "faster",
  new: "new",
  missing: "missing",
};

/**
 * old, new, ratio (new/old), noise margin and verdict per figure; figures that take part in the
 * gate are marked `*`, those that fail the run `!`.
 */
export function comparisonTable(result: CompareResult): string {
  const rows = result.comparisons.map((c) => [
    `${c.failed ? "! " : c.gated ? "* " : "  "}${c.name}`,
    c.unit,
    figure(c.old),
    figure(c.new),
    figure(c.ratio),
    `±${fmtPercent(c.margin)}`,
    VERDICT_TEXT[c.verdict],
  ]);
  return renderTable(["  benchmark", "unit", "old", "new", "new/old", "noise", "verdict"], rows);
}

const GATE_TEXT: Record<Gate, string> = {
  absolute: "absolute figures",
  ratio: "ratios to the reference",
  both: "both (a figure fails when its absolute figure and its ratio both regressed)",
};

/**
 * The closing lines: what was gated, with which tolerance, and the outcome (PASS/FAIL coloured
 * when `stream`, where the lines go, takes colour).
 */
export function verdictSummary(
  result: CompareResult,
  gate: Gate,
  tolerance: number,
  why: string,
  stream: NodeJS.WritableStream,
): string {
  const gated = result.comparisons.filter((c) => c.gated && c.old !== undefined);
  const lines = [
    `gate: ${GATE_TEXT[gate]} (${why}); tolerance ${fmtPercent(tolerance)} beyond the noise margin; * = gated, ! = failed`,
  ];
  if (result.pass && gated.length === 0) {
    lines.push(
      `${verdict("PASS", "warn", stream)}, but nothing was compared: no gated figure is in both runs (renamed benchmarks? save a new baseline)`,
    );
  } else if (result.pass) {
    lines.push(
      `${verdict("PASS", true, stream)}: no gated regression in ${gated.length} compared figures`,
    );
  } else {
    const names = result.comparisons.filter((c) => c.failed).map((c) => c.name);
    lines.push(
      `${verdict("FAIL", false, stream)}: ${result.regressions} gated regression(s): ${names.join(", ")}`,
    );
  }
  return lines.join("\n");
}

/**
 * One line per end-to-end run, then why any delivered rate was not timed, the spread over the
 * timed runs and the zero-loss status.
 */
export function e2eSummary(result: EndToEndResult): string {
  const rows = result.runs.map((r, i) => [
    String(i + 1),
    r.deliveredPerSecond === null ? "not timed" : rate(r.deliveredPerSecond),
    count(r.received),
    count(r.lost),
    count(r.kernelDrops),
    r.received > 0 ? durationUs(r.p99Us) : MISSING,
    r.received > 0 ? durationUs(r.busyUsPerMessage) : MISSING,
  ]);
  const o = result.options;
  const untimed = result.runs.flatMap((r, i) =>
    r.rateNotMeasured === null
      ? []
      : [`run ${i + 1}: delivered rate not timed: ${r.rateNotMeasured}`],
  );
  const spread =
    result.spread === null
      ? "spread of delivered msgs/s: not measured (fewer than 2 timed runs)"
      : `spread of delivered msgs/s (max-min)/median over ${result.runs.length - untimed.length} timed runs: ${fmtPercent(result.spread)}`;
  return [
    `end-to-end: ${count(o.messages)} messages x ${result.runs.length} runs at ${rate(o.ratePps)} offered, ${count(o.hosts)} hosts, seed ${o.seed}, 127.0.0.1`,
    renderTable(
      ["run", "delivered", "received", "lost", "kernel drops", "p99", "busy per msg"],
      rows,
    ),
    ...untimed,
    `${spread}; ${result.zeroLoss ? "zero loss" : "LOSS in at least one run"}`,
  ].join("\n");
}
