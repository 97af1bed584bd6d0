/**
 * `netcons-bench bench` end to end as a user runs it (a child process, real files): --save
 * then --baseline on the same build passes, a doctored baseline that is much faster fails with
 * exit 99, the JSON files have the CI integration's shape, bad input exits 2.
 * Quick mode, one small suite: this checks the wiring and exit codes, never the speed.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parseBaseline } from "../scenarios/bench/format.ts";

const CLI = fileURLToPath(new URL("../scenarios/cli.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "ncb-bench-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function bench(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, "bench", ...args], {
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Two small suites (4 figures, so one noisy figure cannot decide the doctored case alone) and
// no end-to-end run: this is about the comparison. 150 ms per task keeps the margins sane on a
// busy machine.
const QUICK = ["--quick", "--filter", "histogram,sequence", "--time", "150ms"];

describe("bench --save / --baseline", () => {
  const baselineFile = join(dir, "baseline.json");
  const jsonFile = join(dir, "bigger.json");

  it("--save writes a baseline and --json the customBiggerIsBetter list", () => {
    const r = bench(...QUICK, "--save", baselineFile, "--json", jsonFile);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /histogram\/recordValue/);
    assert.match(r.stdout, /sequence\/observe, 1 host, in order/);
    const baseline = parseBaseline(readFileSync(baselineFile, "utf8"));
    assert.ok(baseline.measurements.some((m) => m.kind === "reference"));
    assert.ok(baseline.measurements.some((m) => m.kind === "ratio"));
    const entries = JSON.parse(readFileSync(jsonFile, "utf8")) as Record<string, unknown>[];
    assert.ok(entries.length >= 3);
    for (const e of entries) {
      assert.deepEqual(Object.keys(e).sort(), ["extra", "name", "range", "unit", "value"]);
      assert.ok(typeof e.value === "number" && e.value > 0);
    }
  });

  it("--baseline on the same build passes (exit 0) and shows old, new and the ratio", () => {
    // A generous tolerance: two quick runs on a shared machine differ by more than 10%, and
    // this test is about the verdict's wiring, not about the machine's stability.
    const r = bench(...QUICK, "--baseline", baselineFile, "--tolerance", "60%");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /new\/old/);
    // same machine: a figure fails only if its absolute figure and its ratio both regressed
    assert.match(r.stdout, /gate: both \(a figure fails when .*\(auto: same CPU model/);
    assert.match(r.stdout, /PASS: no gated regression/);
  });

  it("a baseline doctored to be much faster fails with exit 99, under either gate", () => {
    const baseline = parseBaseline(readFileSync(baselineFile, "utf8"));
    for (const m of baseline.measurements) {
      m.value *= 100;
      m.rmePercent = 0;
    }
    const doctored = join(dir, "doctored.json");
    writeFileSync(doctored, JSON.stringify(baseline));
    const r = bench(...QUICK, "--baseline", doctored, "--tolerance", "60%");
    assert.equal(r.code, 99, r.stdout + r.stderr);
    assert.match(r.stdout, /REGRESSION/);
    assert.match(r.stdout, /FAIL: \d+ gated regression/);
    const ratio = bench(...QUICK, "--baseline", doctored, "--gate", "ratio");
    assert.equal(ratio.code, 99, ratio.stdout + ratio.stderr);
  });
});

describe("bench input errors", () => {
  it("exits 2 naming the problem", () => {
    const unknownSuite = bench("--quick", "--filter", "nosuchsuite");
    assert.equal(unknownSuite.code, 2);
    assert.match(unknownSuite.stderr, /--filter nosuchsuite: no suite matches/);
    const notBaseline = join(dir, "not-a-baseline.json");
    writeFileSync(notBaseline, "[]");
    const bad = bench("--quick", "--baseline", notBaseline);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not a netcons-bench baseline/);
    const tolerance = bench("--quick", "--tolerance", "lots");
    assert.equal(tolerance.code, 2);
    assert.match(tolerance.stderr, /--tolerance/);
    // Nothing left to run is a mistake, not an empty baseline.
    const empty = join(dir, "empty-baseline.json");
    const nothing = bench("--quick", "--filter", "e2e", "--no-e2e", "--save", empty);
    assert.equal(nothing.code, 2);
    assert.equal(
      nothing.stderr,
      "netcons-bench: --filter e2e with --no-e2e: nothing is left to run\n",
    );
    assert.equal(existsSync(empty), false);
  });

  it("refuses an unwritable output file before running, not after (which lost the report)", () => {
    const report = join(dir, "kept-report.json");
    const r = bench(...QUICK, "--json", "/nonexistent-dir/bigger.json", "--report", report);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      r.stderr,
      "netcons-bench: cannot write --json /nonexistent-dir/bigger.json: ENOENT\n",
    );
    assert.equal(r.stdout, "", "nothing ran");
  });

  it("refuses to compare a full run with a --quick baseline, before running anything", () => {
    const quickBaseline = join(dir, "quick-baseline.json");
    writeFileSync(
      quickBaseline,
      JSON.stringify({
        format: "netcons-bench/bench-baseline@1",
        savedAt: "2026-01-01T00:00:00.000Z",
        environment: { node: "v24", platform: "linux", arch: "x64", cpuModel: "x", cpus: 2 },
        settings: { quick: true },
        measurements: [],
      }),
    );
    const r = bench("--filter", "histogram", "--baseline", quickBaseline);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      r.stderr,
      `netcons-bench: --baseline ${quickBaseline} was saved by a --quick run: its figures are not comparable with a full run's (run with --quick, or save a full baseline)\n`,
    );
    assert.equal(r.stdout, "");
    const two = bench(...QUICK, "--json", "-", "--report", "-");
    assert.equal(two.code, 2);
    assert.match(two.stderr, /--json - and --report -: only one of them can go to stdout/);
  });

  it("--json - puts only the JSON on stdout", () => {
    const r = bench(...QUICK, "--json", "-");
    assert.equal(r.code, 0, r.stderr);
    const entries = JSON.parse(r.stdout) as { name: string; extra: string }[];
    assert.ok(entries.some((e) => e.name.startsWith("histogram/")));
    assert.ok(entries.every((e) => e.extra.startsWith("quick run, not comparable")));
    assert.match(r.stderr, /histogram\/recordValue/);
  });

  it("--list names every suite", () => {
    const r = bench("--list");
    assert.equal(r.code, 0);
    for (const name of [
      "codec",
      "reassembly",
      "sequence",
      "histogram",
      "receiver",
      "blaster",
      "e2e",
    ]) {
      assert.match(r.stdout, new RegExp(`^${name} `, "m"));
    }
  });
});

describe("bench end-to-end run", () => {
  it("runs blaster -> receiver on loopback and reports every run's delivered rate, the spread and the loss", () => {
    const report = join(dir, "report.json");
    const smaller = join(dir, "smaller.json");
    const r = bench(
      "--quick",
      "--filter",
      "e2e",
      "--e2e-runs",
      "2",
      "--report",
      report,
      "--json-smaller",
      smaller,
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /end-to-end: 2,000 messages x 2 runs at 20,000\/s offered/);
    // a quick run says it is one, once, with its widest margin
    assert.match(
      r.stdout,
      /^--quick: 40 ms per task in \d+ rounds and 2 end-to-end runs of 2,000 messages, so margins reach ±[\d.,]+%; a smoke check, not comparable with a full run/m,
    );
    const doc = JSON.parse(readFileSync(report, "utf8"));
    assert.equal(doc.format, "netcons-bench/bench-report@1");
    assert.equal(doc.comparable, false);
    // how busy the machine was, in the report and in one line
    assert.ok(doc.machine.busyPercent > 0 && doc.machine.busyPercent <= 100, `${doc.machine}`);
    assert.ok(doc.machine.cpus >= 1 && doc.machine.loadAverage1m >= 0);
    assert.match(
      r.stdout,
      new RegExp(`^machine during the run: [\\d.]+% busy.* over all ${doc.machine.cpus} CPUs`, "m"),
    );
    assert.equal(doc.endToEnd.runs.length, 2);
    const timed: number[] = [];
    for (const run of doc.endToEnd.runs) {
      assert.equal(run.sent, 2000);
      assert.equal(run.expected, 2000);
      // every message is either received or counted as lost
      assert.equal(run.received + run.lost, 2000);
      if (run.deliveredPerSecond === null) {
        // not timed: said so, with the reason, instead of a number
        assert.match(run.rateNotMeasured, /\S/);
        continue;
      }
      assert.equal(run.rateNotMeasured, null);
      // Timed from the first send to the last read, the delivered rate can never exceed the
      // blaster's achieved rate (it read 25-27k at 20k offered, or 0, before); well below it
      // only if the receiver went on reading long after the blaster stopped.
      const ratio = run.deliveredPerSecond / run.achievedPps;
      const lagShare = run.readingAfterSendMs / (run.blastMs + run.readingAfterSendMs);
      assert.ok(
        ratio <= 1 + 1e-9,
        `delivered ${run.deliveredPerSecond} vs sent at ${run.achievedPps}/s`,
      );
      const share = run.received / run.sent;
      assert.ok(Math.abs(ratio - share * (1 - lagShare)) < 1e-6, `${ratio} vs lag ${lagShare}`);
      timed.push(run.deliveredPerSecond);
    }
    assert.ok(timed.length >= 1, `no run was timed: ${r.stdout}`);
    const rate = doc.measurements.find(
      (m: { name: string }) => m.name === "e2e/delivered messages/s",
    );
    assert.equal(rate.samples, timed.length);
    const median = timed.length === 1 ? timed[0] : (timed[0] + timed[1]) / 2;
    assert.ok(Math.abs(rate.value - median) < 1e-6);
    if (timed.length === 2) {
      const spread = (Math.max(...timed) - Math.min(...timed)) / median;
      assert.ok(Math.abs(doc.endToEnd.spread - spread) < 1e-9);
      const shown = (spread * 100).toPrecision(3);
      assert.match(r.stdout, new RegExp(`over 2 timed runs: ${Number(shown)}%; (zero loss|LOSS)`));
    } else {
      assert.equal(doc.endToEnd.spread, null);
      assert.match(
        r.stdout,
        /spread of delivered msgs\/s: not measured \(fewer than 2 timed runs\)/,
      );
    }
    assert.match(rate.extra, /^quick run, not comparable with a full run; median of/);
    const names = doc.measurements.map((m: { name: string }) => m.name);
    for (const name of [
      "e2e/lost messages",
      "e2e/end-to-end p99 latency",
      "e2e/receiver busy time per message",
      "e2e/receiver busy time per message vs reference",
    ]) {
      assert.ok(names.includes(name), name);
    }
    // the smaller-is-better file holds the loss, latency and cost figures
    const entries = JSON.parse(readFileSync(smaller, "utf8")) as { name: string }[];
    assert.deepEqual(
      entries.map((e) => e.name),
      [
        "e2e/lost messages",
        "e2e/end-to-end p99 latency",
        "e2e/receiver busy time per message",
        "e2e/receiver busy time per message vs reference",
      ],
    );
  });
});

describe("bench interrupted", () => {
  it("SIGTERM stops the run, still writes the report, exits 130", async () => {
    const report = join(dir, "interrupted.json");
    // full-length tasks: the whole run would take tens of seconds
    const child = spawn(process.execPath, [CLI, "bench", "--no-e2e", "--report", report], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    // late enough that the handler is installed even on a very busy machine (Node starting and
    // stripping the types took over 3 s at a load average of 20), early in a ~40 s run
    const timer = setTimeout(() => child.kill("SIGTERM"), 8000);
    const [code] = (await once(child, "exit")) as [number | null];
    clearTimeout(timer);
    assert.equal(code, 130, stdout);
    assert.match(stdout, /interrupted: the figures above cover what ran before the signal/);
    const doc = JSON.parse(readFileSync(report, "utf8"));
    assert.equal(doc.aborted, true);
    // it stopped early: some suites never ran
    const suites = new Set(doc.measurements.map((m: { suite: string }) => m.suite));
    const all = bench("--list").stdout.trim().split("\n").length - 1; // without e2e
    assert.ok(suites.size < all, `${[...suites].join(", ")} of ${all} suites`);
  });
});
