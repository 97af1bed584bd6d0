/**
 * report.html in a real headless Chromium (Debian's package, driven by playwright-core): it
 * renders from disk with no network and no console errors, and every chart holds the data of
 * the results.json written next to it. The results come from a real small sweep (our receiver
 * on loopback, two grid points, 1 s trials) run through the CLI.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { compareRuns } from "../scenarios/compare.ts";
import { chartData, PERCENTILES, renderReportHtml } from "../scenarios/report-html.ts";
import type { Results } from "../scenarios/results.ts";
import { CHROMIUM, missing, needs } from "./capabilities.ts";

const cli = new URL("../scenarios/cli.ts", import.meta.url).pathname;

test("report.html renders offline with no console errors and its charts hold results.json", async (t) => {
  if (!needs(t, "chromium", missing("chromium"))) return;
  const dir = mkdtempSync(join(tmpdir(), "ncb-report-"));
  const file = join(dir, "sweep.yaml");
  writeFileSync(
    file,
    `name: report-sweep
target: { kind: receiver }
load: { duration: 1s, rate: 3000, hosts: 8, seed: 7 }
plan: { kind: sweep, grid: { listeners: [1], workers: [1, 2] } }
thresholds: ["ledger.balanced == 1"]
`,
  );
  const out = join(dir, "out");
  const run = spawnSync(process.execPath, [cli, "run", file, "--out-dir", out], {
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(run.status, 0, `run exited ${run.status}: ${run.stdout}${run.stderr}`);
  const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as Results;
  assert.equal(results.trials.length, 2);
  const expected = chartData(results);

  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("request", (r) => {
      if (!r.url().startsWith("file:")) requests.push(r.url());
    });
    await page.goto(`file://${join(out, "report.html")}`);
    await page.waitForFunction(
      () =>
        (globalThis as unknown as { netconsBenchCharts?: object }).netconsBenchCharts !== undefined,
    );
    assert.deepEqual(errors, [], "no console errors");
    assert.deepEqual(requests, [], "no network requests");
    const got = await page.evaluate(() => {
      const charts = (
        globalThis as unknown as {
          netconsBenchCharts: Record<
            string,
            { getOption(): { series: { name: string; data: unknown[] }[] } }
          >;
        }
      ).netconsBenchCharts;
      const out: Record<string, { name: string; data: unknown[] }[]> = {};
      for (const [id, chart] of Object.entries(charts)) {
        out[id] = chart.getOption().series.map((s) => ({ name: s.name, data: s.data }));
      }
      // The page's DOM, typed here because the project's TypeScript has no DOM library.
      const doc = (
        globalThis as unknown as {
          document: { getElementById(id: string): { textContent: string | null } | null };
        }
      ).document;
      return { out, recommendation: doc.getElementById("recommendation")?.textContent ?? "" };
    });
    assert.equal(got.recommendation, results.recommendation);
    // Heatmap: one cell per grid point, the delivered rate of its trial.
    assert.ok(expected.heatmap);
    const cells = got.out.heatmap[0].data as [number, number, number][];
    assert.deepEqual(cells, expected.heatmap.cells);
    for (const p of results.points) {
      const tr = results.trials[p.bestTrial!];
      const w = expected.heatmap.workers.indexOf(p.point.workers as number);
      assert.ok(cells.some((c) => c[0] === w && c[2] === Math.round(tr.rate.deliveredPps)));
    }
    // Latency curves: percentiles of each point's trial, straight from results.json.
    assert.equal(got.out.latency.length, results.points.length);
    for (const [i, p] of results.points.entries()) {
      const e2e = results.trials[p.bestTrial!].latencyUs!.endToEnd;
      const want = PERCENTILES.filter((q) => e2e[q.key] > 0).map((q) => [q.x, e2e[q.key]]);
      assert.deepEqual(got.out.latency[i].data, want);
    }
    // Time series: every sample of results.json, in order.
    const secs = results.samples.map((s) => s.tMs / 1000);
    assert.deepEqual(
      got.out.timeline[0].data,
      secs.map((x, i) => [x, Math.round(results.samples[i].sentPps)]),
    );
    assert.deepEqual(
      got.out.timeline[2].data,
      secs.map((x, i) => [x, results.samples[i].drops]),
    );
    assert.deepEqual(
      got.out.rss[0].data,
      secs.map((x, i) => [x, Math.round((results.samples[i].rssBytes / 1048576) * 10) / 10]),
    );
    assert.ok(results.samples.length >= 4);

    // The same trials as a compare plan's A and B runs: the A/B chart holds their figures.
    const ab: Results = structuredClone(results);
    ab.plan = "compare";
    ab.points = ab.points.map((p, i) => ({
      ...p,
      side: i % 2 === 0 ? "A" : "B",
      point: { round: 1 },
    }));
    ab.compare = compareRuns(
      ab.points.map((p) => ({
        side: p.side!,
        metrics: {
          throughputPps: ab.trials[p.bestTrial!].rate.deliveredPps,
          lossRatio: ab.trials[p.bestTrial!].loss.ratio,
        },
      })),
      { tolerance: 0.1, lossTolerance: 0 },
    );
    const abFile = join(dir, "ab.html");
    writeFileSync(abFile, renderReportHtml(ab));
    errors.length = 0;
    await page.goto(`file://${abFile}`);
    await page.waitForFunction(
      () =>
        (globalThis as unknown as { netconsBenchCharts?: object }).netconsBenchCharts !== undefined,
    );
    assert.deepEqual(errors, [], "no console errors on the compare report");
    const bars = await page.evaluate(() => {
      const charts = (
        globalThis as unknown as {
          netconsBenchCharts: Record<
            string,
            { getOption(): { series: { data: unknown[] }[]; xAxis: { data: string[] }[] } }
          >;
        }
      ).netconsBenchCharts;
      const o = charts.compare.getOption();
      return {
        runs: o.xAxis[0].data,
        throughput: o.series[0].data.map((d) => (d as { value: number }).value),
        loss: o.series[1].data,
      };
    });
    assert.deepEqual(bars.runs, ["A1", "B1"]);
    assert.deepEqual(
      bars.throughput,
      ab.points.map((p) => Math.round(ab.trials[p.bestTrial!].rate.deliveredPps)),
    );
    assert.deepEqual(bars.loss, chartData(ab).compare!.lossPercent);
  } finally {
    await browser.close();
  }
});

test("report.html of a search shows why: every trial of the search with the goals' bounds, trial spans on the time series, every check", async (t) => {
  if (!needs(t, "chromium", missing("chromium"))) return;
  const dir = mkdtempSync(join(tmpdir(), "ncb-report-"));
  const file = join(dir, "search.yaml");
  writeFileSync(
    file,
    `name: report-search
target: { kind: receiver }
load: { hosts: 8, seed: 7, size: 120 }
plan: { kind: search, minLoad: 250, maxLoad: 1000 }
thresholds: ["ledger.balanced == 1", "sequence.missing == expected.missing"]
`,
  );
  const out = join(dir, "out");
  const run = spawnSync(process.execPath, [cli, "run", file, "--out-dir", out], {
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(run.status, 0, `run exited ${run.status}: ${run.stdout}${run.stderr}`);
  const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as Results;
  const search = results.points[0].search!;
  const expected = chartData(results);
  assert.deepEqual(
    expected.searches[0].trials,
    search.steps.map((s) => [s.loadPps, Math.round(s.lossRatio * 1e6) / 1e4]),
  );
  assert.equal(expected.trialSpans.length, results.trials.length);

  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    await page.goto(`file://${join(out, "report.html")}`);
    await page.waitForFunction(
      () =>
        (globalThis as unknown as { netconsBenchCharts?: object }).netconsBenchCharts !== undefined,
    );
    assert.deepEqual(errors, []);
    const got = await page.evaluate(() => {
      type Series = {
        data: unknown[];
        markLine?: { data: { xAxis: number; name: string }[] };
        markArea?: { data: unknown[] };
      };
      const charts = (
        globalThis as unknown as {
          netconsBenchCharts: Record<string, { getOption(): { series: Series[] } }>;
        }
      ).netconsBenchCharts;
      const s = charts["search-0"].getOption().series[0];
      const doc = (
        globalThis as unknown as {
          document: {
            querySelectorAll(q: string): { length: number; [i: number]: { textContent: string } };
          };
        }
      ).document;
      const checks = doc.querySelectorAll("#checks li");
      const texts: string[] = [];
      for (let i = 0; i < checks.length; i++) texts.push(checks[i].textContent);
      return {
        trials: s.data,
        bounds: (s.markLine?.data ?? []).map((d) => [d.name, d.xAxis]),
        spans: charts.timeline.getOption().series[0].markArea?.data.length ?? 0,
        checks: texts,
        goalRows: doc.querySelectorAll("#goals tbody tr").length,
        settings: doc.querySelectorAll("#settings").length,
      };
    });
    // The search chart: one point per trial, load against loss, and a line per goal bound.
    assert.deepEqual(got.trials, expected.searches[0].trials);
    const lines = search.goals.flatMap((g) => [
      ...(g.lowerBoundPps === null ? [] : [[`${g.name} lower`, g.lowerBoundPps]]),
      ...(g.upperBoundPps === null ? [] : [[`${g.name} upper`, g.upperBoundPps]]),
    ]);
    assert.deepEqual(got.bounds, lines);
    assert.equal(got.spans, results.trials.length, "one shaded span per trial on the time series");
    assert.equal(got.goalRows, search.goals.length);
    assert.equal(got.settings, 1);
    // Every comparison is listed with its figures, not only "every threshold held".
    assert.deepEqual(
      got.checks,
      results.points[0].thresholds.map((o) => `[search] ${o.message}`),
    );
    assert.match(
      got.checks[1],
      /^\[search\] sequence\.missing == expected\.missing: ok \(\d+ == \d+\)$/,
    );
  } finally {
    await browser.close();
  }
});
