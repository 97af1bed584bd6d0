/**
 * report.html: one self-contained file that opens from disk with no network. ECharts' minified
 * build and the results are inlined; the chart data is prepared here (chartData) so the page
 * only draws, and the browser test can compare what the charts hold with results.json.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { bytes, count, durationUs, percent, rate } from "./format.ts";
import {
  bestTrialOf,
  goalText,
  goalTitle,
  pointRate,
  type Results,
  resultsTable,
} from "./results.ts";

/** HdrHistogram-style x positions: 1 / (1 - percentile). */
export const PERCENTILES: readonly { key: string; label: string; x: number }[] = [
  { key: "p50", label: "50%", x: 2 },
  { key: "p90", label: "90%", x: 10 },
  { key: "p99", label: "99%", x: 100 },
  { key: "p999", label: "99.9%", x: 1000 },
  { key: "p9999", label: "99.99%", x: 10000 },
];

export interface ChartData {
  heatmap: {
    listeners: number[];
    workers: number[];
    /** [workerIndex, listenerIndex, msg/s] */
    cells: [number, number, number][];
    metric: string;
  } | null;
  latency: { name: string; points: [number, number][] }[];
  /** A compare plan's runs in order (A1 B1 A2 B2 ...): throughput and loss ratio of each. */
  compare: { runs: string[]; throughputPps: number[]; lossPercent: number[] } | null;
  /** Per searched point: every trial as [load msg/s, loss %], and each goal's bounds. */
  searches: {
    name: string;
    trials: [number, number][];
    goals: {
      name: string;
      lowerPps: number | null;
      upperPps: number | null;
      conclusive: boolean;
    }[];
  }[];
  /** Where each trial starts and ends on the timeline (s), for the boundaries. */
  trialSpans: { trial: number; label: string; fromS: number; toS: number }[];
  timeline: {
    tMs: number[];
    sentPps: number[];
    receivedPps: (number | null)[];
    drops: number[];
    /** RSS in MiB, one decimal (the chart's unit). */
    rssMiB: number[];
  };
}

function pointNumber(point: Record<string, unknown>, name: "listeners" | "workers"): number | null {
  const v = point[name] ?? point[`target.${name}`];
  return typeof v === "number" ? v : null;
}

/** What each chart shows, computed from the results alone. */
export function chartData(results: Results): ChartData {
  let heatmap: ChartData["heatmap"] = null;
  const gridPoints = results.points.filter(
    (p) => pointNumber(p.point, "listeners") !== null && pointNumber(p.point, "workers") !== null,
  );
  if (gridPoints.length > 0) {
    const listeners = [...new Set(gridPoints.map((p) => pointNumber(p.point, "listeners")!))].sort(
      (a, b) => a - b,
    );
    const workers = [...new Set(gridPoints.map((p) => pointNumber(p.point, "workers")!))].sort(
      (a, b) => a - b,
    );
    const anySearch = gridPoints.some((p) => p.search);
    const cells: [number, number, number][] = [];
    for (const p of gridPoints) {
      // An inconclusive search has no cell: its bracket is not a result.
      const rate = pointRate(results, p);
      if (rate === null) continue;
      const value = Math.round(rate);
      cells.push([
        workers.indexOf(pointNumber(p.point, "workers")!),
        listeners.indexOf(pointNumber(p.point, "listeners")!),
        value,
      ]);
    }
    heatmap = {
      listeners,
      workers,
      cells,
      metric: anySearch
        ? `lower bound, ${gridPoints.find((p) => p.search)?.search?.goals[0]?.name ?? ""} msg/s`
        : "delivered msg/s",
    };
  }
  const latency: ChartData["latency"] = [];
  for (const p of results.points) {
    const t = bestTrialOf(results, p);
    const e2e = t?.latencyUs?.endToEnd;
    if (!e2e || !(e2e.count > 0)) continue;
    const points: [number, number][] = [];
    for (const q of PERCENTILES) {
      const v = e2e[q.key];
      if (typeof v === "number" && v > 0) points.push([q.x, v]);
    }
    if (points.length > 0)
      latency.push({ name: `${p.side ? `${p.side} ` : ""}${p.label}`, points });
  }
  let compare: ChartData["compare"] = null;
  if (results.compare) {
    const sides = results.points.filter((p) => p.side !== undefined && p.bestTrial !== null);
    compare = {
      runs: sides.map((p) => `${p.side}${p.point.round ?? ""}`),
      throughputPps: sides.map((p) => Math.round(pointRate(results, p) ?? 0)),
      lossPercent: sides.map(
        (p) =>
          Math.round(results.trials[p.search ? p.trials[0] : p.bestTrial!].loss.ratio * 1e4) / 100,
      ),
    };
  }
  const samples = results.samples;
  const searches: ChartData["searches"] = results.points
    .filter((p) => p.search)
    .map((p) => ({
      name: `${p.side ? `${p.side} ` : ""}${p.label}`,
      trials: p.search!.steps.map(
        (st) => [st.loadPps, Math.round(st.lossRatio * 1e6) / 1e4] as [number, number],
      ),
      goals: p.search!.goals.map((g) => ({
        name: g.name,
        lowerPps: g.lowerBoundPps,
        upperPps: g.upperBoundPps,
        conclusive: g.conclusive,
      })),
    }));
  const trialSpans: ChartData["trialSpans"] = [];
  for (const t of results.trials) {
    const own = samples.filter((x) => x.trial === t.trial);
    if (own.length === 0) continue;
    trialSpans.push({
      trial: t.trial,
      label: t.label,
      fromS: own[0].tMs / 1000,
      toS: own[own.length - 1].tMs / 1000,
    });
  }
  return {
    heatmap,
    latency,
    compare,
    searches,
    trialSpans,
    timeline: {
      tMs: samples.map((s) => s.tMs),
      sentPps: samples.map((s) => Math.round(s.sentPps)),
      receivedPps: samples.map((s) => (s.receivedPps === null ? null : Math.round(s.receivedPps))),
      drops: samples.map((s) => s.drops),
      rssMiB: samples.map((s) => Math.round((s.rssBytes / 1048576) * 10) / 10),
    },
  };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON safe inside <script>: no "</script>" or "<!--" can close or confuse the element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

let echartsSource: string | undefined;
function echartsMin(): string {
  echartsSource ??= readFileSync(
    fileURLToPath(import.meta.resolve("echarts/dist/echarts.min.js")),
    "utf8",
  );
  return echartsSource;
}

/** The page's own drawing code (plain browser JS, no network). */
const DRAW = `
(function () {
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  var charts = {};
  function make(id, option) {
    var el = document.getElementById(id);
    if (!el) return;
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(option);
    charts[id] = chart;
  }
  function none(id, why) {
    var el = document.getElementById(id);
    el.className = "empty";
    el.textContent = why;
  }
  var h = data.heatmap;
  if (h && h.cells.length > 0) {
    var max = 0, min = Infinity;
    h.cells.forEach(function (c) { if (c[2] > max) max = c[2]; if (c[2] < min) min = c[2]; });
    if (min === max) min = 0;
    make("heatmap", {
      animation: false,
      title: { text: "listeners x workers: " + h.metric, left: "center", textStyle: { fontSize: 14 } },
      tooltip: { formatter: function (p) { return "-l " + h.listeners[p.value[1]] + " -w " + h.workers[p.value[0]] + ": " + p.value[2] + " msg/s"; } },
      grid: { top: 40, bottom: 50, left: 70, right: 90 },
      xAxis: { type: "category", name: "workers", nameLocation: "middle", nameGap: 28, data: h.workers.map(String) },
      yAxis: { type: "category", name: "listeners", nameLocation: "middle", nameGap: 40, data: h.listeners.map(String) },
      visualMap: { min: min, max: max || 1, calculable: true, orient: "vertical", right: 0, top: "middle", itemHeight: 120 },
      series: [{ name: h.metric, type: "heatmap", data: h.cells, label: { show: true } }]
    });
  } else {
    // No grid: the latency chart takes the whole row.
    var hm = document.getElementById("heatmap");
    hm.parentNode.className = "";
    hm.style.display = "none";
  }
  if (data.latency.length > 0) {
    make("latency", {
      animation: false,
      title: { text: "end-to-end latency by percentile (log scales)", left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "item", formatter: function (p) { return p.seriesName + ": " + (100 - 100 / p.value[0]) + "% <= " + p.value[1] + " µs"; } },
      legend: { bottom: 0, type: "scroll" },
      grid: { top: 40, bottom: 70, left: 70, right: 20 },
      xAxis: { type: "log", name: "percentile", nameLocation: "middle", nameGap: 28, min: 1, max: 100000,
        axisLabel: { formatter: function (v) { return (100 - 100 / v) + "%"; } } },
      yAxis: { type: "log", name: "µs" },
      series: data.latency.map(function (s) { return { name: s.name, type: "line", data: s.points, symbolSize: 6 }; })
    });
  } else none("latency", "The target reports no latency (an external command is measured from outside).");
  var c = data.compare;
  if (c && c.runs.length > 0) {
    make("compare", {
      animation: false,
      title: { text: "baseline (A) and candidate (B), in the order they ran", left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { top: 40, bottom: 60, left: 80, right: 70 },
      xAxis: { type: "category", data: c.runs },
      yAxis: [{ type: "value", name: "throughput/s" }, { type: "value", name: "loss %" }],
      series: [
        { name: "throughput", type: "bar", data: c.throughputPps.map(function (v, i) {
            return { value: v, itemStyle: { color: c.runs[i].charAt(0) === "A" ? "#5470c6" : "#ee6666" } }; }) },
        { name: "loss %", type: "line", yAxisIndex: 1, data: c.lossPercent }
      ]
    });
  } else document.getElementById("compare").style.display = "none";
  var searchBox = document.getElementById("searches");
  data.searches.forEach(function (sr, i) {
    var el = document.createElement("div");
    el.id = "search-" + i;
    el.className = "chart";
    searchBox.appendChild(el);
    var lines = [];
    sr.goals.forEach(function (g) {
      var tag = g.conclusive ? "" : " (inconclusive)";
      if (g.lowerPps !== null) lines.push({ xAxis: g.lowerPps, name: g.name + " lower" + tag });
      if (g.upperPps !== null) lines.push({ xAxis: g.upperPps, name: g.name + " upper" + tag });
    });
    make(el.id, {
      animation: false,
      title: { text: "search steps, " + sr.name + ": loss of every trial at its load", left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "item", formatter: function (p) { return p.value[0] + " msg/s: " + p.value[1] + "% lost"; } },
      grid: { top: 40, bottom: 50, left: 70, right: 30 },
      xAxis: { type: "value", name: "load msg/s", nameLocation: "middle", nameGap: 28, scale: true },
      yAxis: { type: "value", name: "loss %" },
      series: [{ name: "trials", type: "scatter", data: sr.trials, symbolSize: 8,
        markLine: { symbol: "none", label: { formatter: "{b}", rotate: 90, fontSize: 10 }, data: lines } }]
    });
  });
  var t = data.timeline;
  var spans = data.trialSpans.map(function (s) { return [{ xAxis: s.fromS, name: "#" + s.trial }, { xAxis: s.toS }]; });
  if (t.tMs.length > 0) {
    var secs = t.tMs.map(function (ms) { return ms / 1000; });
    function pairs(ys) { return secs.map(function (x, i) { return [x, ys[i]]; }); }
    make("timeline", {
      animation: false,
      title: { text: "rate and drops over time", left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { top: 40, bottom: 60, left: 70, right: 70 },
      xAxis: { type: "value", name: "s", nameLocation: "middle", nameGap: 24 },
      yAxis: [{ type: "value", name: "datagrams/s" }, { type: "value", name: "drops (cumulative per trial)" }],
      series: [
        { name: "sent/s", type: "line", showSymbol: false, data: pairs(t.sentPps),
          markArea: { silent: true, itemStyle: { color: "rgba(120,120,120,0.08)", borderColor: "#aaa", borderWidth: 1 }, label: { fontSize: 9 }, data: spans } },
        { name: "received/s", type: "line", showSymbol: false, data: pairs(t.receivedPps) },
        { name: "drops", type: "line", step: "end", showSymbol: false, yAxisIndex: 1, data: pairs(t.drops) }
      ]
    });
    make("rss", {
      animation: false,
      title: { text: "target RSS over time", left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis" },
      grid: { top: 40, bottom: 40, left: 80, right: 20 },
      xAxis: { type: "value", name: "s", nameLocation: "middle", nameGap: 24 },
      yAxis: { type: "value", name: "MiB", scale: true },
      series: [{ name: "RSS MiB", type: "line", showSymbol: false, data: pairs(t.rssMiB) }]
    });
  } else { none("timeline", "No samples were taken."); none("rss", "No samples were taken."); }
  window.netconsBenchCharts = charts;
  window.addEventListener("resize", function () { Object.keys(charts).forEach(function (k) { charts[k].resize(); }); });
})();
`;

export function renderReportHtml(results: Results): string {
  const title = `netcons-bench: ${results.scenario.name}`;
  const env = results.environment;
  const failed = results.failedThresholds;
  const status =
    results.status !== "complete"
      ? `<p class="warn">Run ${escapeHtml(results.status)}${results.error ? `: ${escapeHtml(results.error)}` : ""}; these are the results gathered so far.</p>`
      : "";
  // Every comparison with its figures ("sequence.missing == expected.missing: ok (255)"), not only
  // a verdict, so a reader can see what was checked.
  const outcome = (where: string, o: { pass: boolean; message: string }) =>
    `<li class="${o.pass ? "ok" : "bad"}">${where ? `[${escapeHtml(where)}] ` : ""}${escapeHtml(o.message)}</li>`;
  const checks = [
    ...results.points.flatMap((p) =>
      p.thresholds.map((o) => outcome(`${p.side ? `${p.side} ` : ""}${p.label}`, o)),
    ),
    ...results.runThresholds.map((o) => outcome("", o)),
  ];
  const thresholds = `${
    failed.length === 0
      ? `<p class="ok">Every threshold held (${checks.length} checks).</p>`
      : `<p class="bad">${failed.length} threshold(s) failed.</p>`
  }${checks.length > 0 ? `<ul id="checks">${checks.join("")}</ul>` : ""}`;
  const goalRows = results.points
    .filter((p) => p.search)
    .flatMap((p) =>
      p.search!.goals.map(
        (g) =>
          `<tr><td>${escapeHtml(`${p.side ? `${p.side} ` : ""}${p.label}`)}</td><td>${escapeHtml(goalTitle(g))}</td><td class="${g.conclusive ? "" : "bad"}">${escapeHtml(goalText(g))}</td><td>${rate(g.conditionalThroughputPps)}</td><td>${g.trialsAtLowerBound}/${g.trialsAtUpperBound}</td><td>${p.search!.steps.length} (${escapeHtml(p.search!.stoppedBy)})</td><td>${escapeHtml(`${durationUs(g.finalTrialDurationMs * 1000)} trials, ${durationUs(g.durationSumMs * 1000)} a load, exceed ${percent(g.exceedRatio)}, width ${percent(g.width)}`)}</td></tr>`,
      ),
    )
    .join("\n");
  const searchSection =
    goalRows === ""
      ? ""
      : `<h2>Search goals</h2>
<table id="goals"><thead><tr><th>point</th><th>goal</th><th>bounds</th><th>conditional throughput</th><th>trials at lower/upper</th><th>trials (stopped by)</th><th>settings</th></tr></thead>
<tbody>
${goalRows}
</tbody></table>
<div id="searches"></div>`;
  const definition = results.scenario.definition as { load?: unknown; target?: unknown } | null;
  const loadAvg = (v: readonly number[] | null) => (v && v.length > 0 ? v.join(" ") : "-");
  const trialRows = results.trials
    .map(
      (t) =>
        `<tr><td>${t.trial}</td><td>${escapeHtml(`${t.side ? `${t.side} ` : ""}${t.label}`)}</td><td>${rate(t.rate.targetPps)}</td><td>${rate(t.rate.achievedPps)}</td><td>${rate(t.rate.deliveredPps)}</td><td>${count(t.loss.packets)}</td><td>${count(t.drops.total)}</td><td>${durationUs(t.latencyUs?.endToEnd?.p99)}</td><td>${durationUs(t.target.cpuMs * 1000)}</td><td>${escapeHtml(bytes(t.target.rssPeakBytes))}</td><td>${t.error ? escapeHtml(t.error) : t.interrupted ? "interrupted" : ""}</td></tr>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 1100px; padding: 0 1em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
.rec { font-size: 1.15em; background: #eef6ee; border-left: 4px solid #393; padding: .6em 1em; }
.warn { background: #fff4e0; border-left: 4px solid #e90; padding: .5em 1em; }
.ok { color: #262; } .bad { color: #a00; }
.chart { width: 100%; height: 380px; margin: 1em 0; }
.empty { color: #777; font-style: italic; height: auto; }
table { border-collapse: collapse; font-size: 12px; } td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
td:nth-child(2) { text-align: left; }
pre { background: #f6f6f6; padding: .8em; overflow-x: auto; font-size: 12px; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(results.scenario.description)}</p>
${status}
<p class="rec" id="recommendation">${escapeHtml(results.recommendation)}</p>
<h2>Thresholds</h2>
${thresholds}
<div class="grid2"><div id="heatmap" class="chart"></div><div id="latency" class="chart"></div></div>
<div id="compare" class="chart"></div>
${searchSection || '<div id="searches"></div>'}
<div id="timeline" class="chart"></div>
<div id="rss" class="chart"></div>
<h2>Summary</h2>
<pre>${escapeHtml(resultsTable(results))}</pre>
<h2>Trials</h2>
<table><thead><tr><th>#</th><th>point</th><th>target</th><th>achieved</th><th>delivered</th><th>lost</th><th>drops</th><th>p99</th><th>cpu</th><th>rss peak</th><th></th></tr></thead>
<tbody>
${trialRows}
</tbody></table>
<h2>Load and target settings</h2>
<pre id="settings">${escapeHtml(JSON.stringify({ load: definition?.load, target: definition?.target }, null, 2))}</pre>
<h2>Environment</h2>
<p>netcons-bench ${escapeHtml(results.version)}, load average ${escapeHtml(loadAvg(env.loadAverageStart))} at the start and ${escapeHtml(loadAvg(env.loadAverageEnd))} at the end (1, 5, 15 min), other processes took ${env.otherCpuShare === null ? "an unknown share" : `${Math.round(env.otherCpuShare * 100)}%`} of the CPU during the run; ${env.cpus} CPUs (${escapeHtml(env.cpuModel)}), kernel ${escapeHtml(env.kernel)}, Node ${escapeHtml(env.node)}, seed ${env.seed ?? "-"}, started ${escapeHtml(env.startedAt)}, plan ${escapeHtml(results.plan)}, scenario file ${escapeHtml(results.scenario.file)}${results.scenario.sets.length ? `, --set ${escapeHtml(results.scenario.sets.join(" "))}` : ""}.</p>
<script>${echartsMin()}</script>
<script type="application/json" id="chart-data">${scriptJson(chartData(results))}</script>
<script type="application/json" id="results-data">${scriptJson(results)}</script>
<script>${DRAW}</script>
</body></html>
`;
}
