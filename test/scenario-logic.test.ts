/**
 * Pure logic of the scenarios: threshold parsing and evaluation, the zero-loss search against a
 * synthetic device, the A/B verdict, the scenario schema's error messages, /proc parsers.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseProcStat, parseProcStatus } from "../receiver/procfs.ts";
import { compareRuns } from "../scenarios/compare.ts";
import { OutputKeeper, parseNetconsdStats } from "../scenarios/external.ts";
import { UsageError } from "../scenarios/options.ts";
import { type Results, recommend } from "../scenarios/results.ts";
import { gridPoints, loadScenario } from "../scenarios/schema.ts";
import { zeroLossSearch } from "../scenarios/search.ts";
import {
  evaluateThreshold,
  parseThreshold,
  ThresholdSyntaxError,
} from "../scenarios/thresholds.ts";

const figures = {
  drops: { total: 0 },
  latencyUs: { endToEnd: { p99: 7234 } },
  rate: { achievedPps: 9950, targetPps: 10000 },
  sequence: { missing: 12 },
  expected: { missing: 12 },
  flag: true,
};

test("thresholds: the k6-style forms evaluate, with margins when they fail", () => {
  const ok = (s: string) => evaluateThreshold(parseThreshold(s), figures);
  assert.equal(ok("drops.total == 0").pass, true);
  assert.equal(ok("rate.achievedPps >= 0.99 * rate.targetPps").pass, true);
  assert.equal(ok("rate.achievedPps >= 0.999 * rate.targetPps").pass, false);
  assert.equal(ok("sequence.missing == expected.missing").pass, true);
  assert.equal(ok("sequence.missing - expected.missing == 0").pass, true);
  assert.equal(ok("(1 + 2) * 3 == 9").pass, true);
  assert.equal(ok("-2 * -3 == 6").pass, true);
  assert.equal(ok("10k == 10000").pass, true);
  assert.equal(ok("flag == 1").pass, true);
  const p99 = ok("latencyUs.endToEnd.p99 < 5000");
  assert.equal(p99.pass, false);
  assert.equal(p99.by, 2234);
  assert.ok(Math.abs((p99.byRatio ?? 0) - 0.4468) < 1e-9);
  assert.match(p99.message, /FAILED \(7234\), off by 2234 \(44\.68%\)/);
  const missing = ok("latencyUs.queue.p99 < 5");
  assert.equal(missing.pass, false);
  assert.match(missing.message, /latencyUs\.queue\.p99 not in this result's figures/);
  // Only own properties are followed: no prototype tricks.
  assert.equal(ok("constructor.length == 1").pass, false);
});

test("thresholds: syntax errors say where and what", () => {
  const bad = (s: string, re: RegExp) =>
    assert.throws(
      () => parseThreshold(s),
      (e: unknown) => e instanceof ThresholdSyntaxError && re.test((e as Error).message),
    );
  bad("drops.total = 0", /column 13: "=" is not a comparison; use "=="/);
  bad("drops.total", /expected a comparison/);
  bad("a < ", /at the end/);
  bad("a < b c", /unexpected "c"/);
  bad("process.exit(1) == 0", /unexpected "\("|expected a comparison/);
  bad("a; b == 1", /unexpected character ";"/);
  bad("", /empty threshold/);
});

test("zero-loss search: finds the knee of a synthetic device within the resolution", async () => {
  const knee = 43_210;
  const tried: number[] = [];
  const r = await zeroLossSearch(
    { lowPps: 1000, highPps: 100_000, resolutionPps: 500, maxTrials: 20 },
    async (rate) => {
      tried.push(rate);
      return { pass: rate <= knee, trial: rate };
    },
  );
  assert.equal(tried[0], 100_000, "the highest rate is tried first (RFC 2544)");
  assert.ok(r.zeroLossPps <= knee && knee - r.zeroLossPps <= 500, `got ${r.zeroLossPps}`);
  assert.ok(r.failedPps !== null && r.failedPps > knee && r.failedPps - r.zeroLossPps <= 500);
  assert.equal(r.best, r.zeroLossPps);
  assert.equal(r.stoppedBy, "resolution");
  assert.ok(tried.length <= 10, `${tried.length} trials`);

  const top = await zeroLossSearch(
    { lowPps: 10, highPps: 100, resolutionPps: 1, maxTrials: 5 },
    async () => ({ pass: true, trial: 0 }),
  );
  assert.deepEqual([top.zeroLossPps, top.stoppedBy, top.steps.length], [100, "high-passed", 1]);
  const none = await zeroLossSearch(
    { lowPps: 10, highPps: 100, resolutionPps: 1, maxTrials: 5 },
    async () => ({ pass: false, trial: 0 }),
  );
  assert.deepEqual([none.zeroLossPps, none.stoppedBy, none.steps.length], [0, "low-failed", 2]);
  const budget = await zeroLossSearch(
    { lowPps: 1, highPps: 1e6, resolutionPps: 1, maxTrials: 4 },
    async (r) => ({ pass: r < 500, trial: 0 }),
  );
  assert.deepEqual([budget.steps.length, budget.stoppedBy], [4, "max-trials"]);
  let calls = 0;
  const stopped = await zeroLossSearch(
    { lowPps: 1, highPps: 1e6, resolutionPps: 1, maxTrials: 40 },
    async () => ({ pass: ++calls > 1, trial: 0 }),
    () => calls >= 3,
  );
  assert.deepEqual([stopped.steps.length, stopped.stoppedBy], [3, "aborted"]);
});

test("compare: regression, improvement and noise within the band", () => {
  const run = (side: "A" | "B", throughputPps: number, lossRatio = 0, p99Us?: number) => ({
    side,
    metrics: { throughputPps, lossRatio, p99Us },
  });
  const settings = { tolerance: 0.1, lossTolerance: 0 };
  const slower = compareRuns(
    [run("A", 100_000), run("B", 80_000), run("A", 102_000), run("B", 81_000)],
    settings,
  );
  assert.equal(slower.metrics[0].verdict, "regression");
  assert.equal(slower.regressions, 1);
  assert.match(slower.summary, /REGRESSION in throughputPps/);
  const noisy = compareRuns(
    [run("A", 100_000), run("B", 93_000), run("A", 101_000), run("B", 95_000)],
    settings,
  );
  assert.equal(noisy.metrics[0].verdict, "same");
  // A spread larger than the tolerance widens the band: 35% noise hides a 19% drop.
  const wide = compareRuns(
    [run("A", 70_000), run("B", 72_000), run("A", 100_000), run("B", 66_000)],
    settings,
  );
  assert.equal(wide.metrics[0].verdict, "same");
  assert.match(wide.summary, /varied by ±\d+\.\d% between runs of one side/);
  assert.doesNotMatch(noisy.summary, /varied by/);
  const faster = compareRuns(
    [
      run("A", 100_000, 0, 900),
      run("B", 130_000, 0, 500),
      run("A", 100_000, 0, 910),
      run("B", 128_000, 0, 520),
    ],
    settings,
  );
  assert.deepEqual(
    faster.metrics.map((m) => m.verdict),
    ["improvement", "same", "improvement"],
  );
  const lossy = compareRuns(
    [run("A", 1, 0), run("B", 1, 0.01), run("A", 1, 0), run("B", 1, 0.002)],
    settings,
  );
  assert.equal(lossy.metrics[1].verdict, "regression");
  const onceLossy = compareRuns(
    [run("A", 1, 0), run("B", 1, 0.01), run("A", 1, 0), run("B", 1, 0)],
    settings,
  );
  assert.equal(onceLossy.metrics[1].verdict, "same", "one lossy run of two is not consistent");
  assert.equal(lossy.metrics[2].verdict, "n/a", "no latency from the target");
  // Both sides losing at an overload rate: two runs a side separate by chance one time in three,
  // so that is not a verdict (the A = B case measured against a real netconsd: 23%, 41% vs 7%, 2%).
  const overload = compareRuns(
    [run("A", 1, 0.23), run("B", 1, 0.07), run("A", 1, 0.41), run("B", 1, 0.02)],
    settings,
  );
  assert.equal(overload.metrics[1].verdict, "same");
  assert.match(overload.metrics[1].reason, /raise rounds/);
  const overloadWorse = compareRuns(
    [run("A", 1, 0.02), run("B", 1, 0.3), run("A", 1, 0.07), run("B", 1, 0.25)],
    settings,
  );
  assert.equal(overloadWorse.metrics[1].verdict, "same");
  // With four runs a side, full separation is a verdict (chance: 1 in 35).
  const fourRounds = compareRuns(
    [0.02, 0.05, 0.03, 0.04].flatMap((a, i) => [run("A", 1, a), run("B", 1, 0.2 + i / 100)]),
    settings,
  );
  assert.equal(fourRounds.metrics[1].verdict, "regression");
});

test("schema: errors name the file, the key path and the expected form", () => {
  const dir = mkdtempSync(join(tmpdir(), "ncb-schema-"));
  const file = join(dir, "bad.yaml");
  const fails = (text: string, sets: string[] = []) => {
    writeFileSync(file, text);
    try {
      loadScenario(file, sets);
    } catch (e) {
      assert.ok(e instanceof UsageError, String(e));
      return (e as Error).message;
    }
    assert.fail("expected a UsageError");
  };
  const msg = fails(`name: x
target: { kind: command, command: "nd -l {listeners} -z {zap}", listners: 2 }
load: { duration: 5 parsecs, hosts: -1 }
plan: { kind: sweep, grid: { workers: [1, 2] } }
thresholds: ["drops.total = 0"]
`);
  assert.match(msg, new RegExp(`${file}: target: unknown key "listners"`));
  assert.match(msg, /target\.command: unknown placeholder \{zap\}/);
  assert.match(msg, /load\.duration: expected a duration such as 500ms, 10s, 2m or 1h/);
  assert.match(msg, /load\.hosts: expected a positive integer/);
  assert.match(msg, /thresholds\[0\]: at column 13: "=" is not a comparison/);
  assert.match(
    fails("name: x\ntarget: { kind: nginx }\n"),
    /target\.kind: expected target\.kind "receiver" or "command"/,
  );
  assert.match(fails("name: x\ntarget: [\n"), /bad\.yaml:\d+:\d+: not valid YAML/);
  assert.match(fails("- a\n- b\n"), /expected a YAML mapping/);
  assert.match(
    fails(
      "name: x\ntarget: { kind: receiver }\nplan: { kind: sweep, grid: { workers: [1, zero] } }\n",
    ),
    /sweep point workers=zero\): target\.workers: expected a positive integer/,
  );
  assert.match(
    fails("name: x\ntarget: { kind: receiver }\n", ["load.rate=fast"]),
    /\(with --set\): load\.rate: expected a non-negative number/,
  );
  assert.match(
    fails("name: x\ntarget: { kind: receiver }\n", ["norate"]),
    /--set "norate": expected key=value/,
  );
  assert.match(
    fails("name: x\ntarget: { kind: receiver }\n", ["name.x=1"]),
    /"name" holds "x", not a mapping/,
  );
  assert.match(
    fails(`name: x\ntarget: { kind: receiver }\n`, ["plan.kind=zero-loss"]),
    /plan\.kind: expected plan\.kind one of/,
  );
  // A bundled receiver scenario pointed at a command keeps its receiver options: say how to drop them.
  const receiverWithOptions = "name: x\ntarget: { kind: receiver, options: { rcvbuf: 4194304 } }\n";
  assert.match(
    fails(receiverWithOptions, ["target.kind=command", "target.command=nd -u {port}"]),
    /target: unknown key "options" \(.*remove them with --set target\.options=null\)/,
  );
  writeFileSync(file, receiverWithOptions);
  const pointed = loadScenario(file, [
    "target.kind=command",
    "target.command=nd -u {port}",
    "target.options=null",
    "target.nothing.here=~",
  ]).scenario.target;
  assert.equal(pointed.kind, "command");
  assert.equal("options" in pointed, false);

  writeFileSync(
    file,
    "name: ok\ntarget: { kind: receiver }\nload: { duration: 2s, rate: 20k }\nplan: { kind: sweep, grid: { listeners: [1], workers: [1, 2] } }\n",
  );
  const good = loadScenario(file, ["load.hosts=64", "plan.grid.workers=[1, 2, 4]"]);
  assert.equal(good.scenario.load.duration, 2000);
  assert.equal(good.scenario.load.rate, 20000);
  assert.equal(good.scenario.load.hosts, 64);
  assert.equal(good.scenario.target.workers, 2);
  assert.deepEqual(gridPoints({ listeners: [1, 2], workers: [1, 2, 4] }).length, 6);
  writeFileSync(
    file,
    "name: g\ntarget: { kind: receiver }\nplan: { kind: sweep, grid: { load.hosts: [1, 2] } }\n",
  );
  const dotted = loadScenario(file, ["plan.grid.load.hosts=[10, 20, 30]"]).scenario.plan;
  assert.deepEqual(dotted.kind === "sweep" && dotted.grid, { "load.hosts": [10, 20, 30] });
  assert.deepEqual(gridPoints({ a: [1, 2], b: [3] }), [
    { a: 1, b: 3 },
    { a: 2, b: 3 },
  ]);
});

test("procfs and netconsd output parsers", () => {
  const stat =
    "4242 (net consd) worker) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 130 7 3 20 0 5 0 100 1000 200";
  assert.deepEqual(parseProcStat(stat), { pid: 4242, ppid: 1, cpuTicks: 380, childCpuTicks: 10 });
  assert.equal(parseProcStat("garbage"), null);
  assert.deepEqual(parseProcStatus("Name:\tnetconsd\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n"), {
    rssBytes: 1024 * 1024,
    peakRssBytes: 2048 * 1024,
  });
  const out = `Exiting listener 0 queued 300 messages
Exiting listener 1 queued 372 messages
Total messages processed by listeners: 672
Exiting worker 0 got 400 msgs from 3 hosts
Exiting worker 1 got 272 msgs from 2 hosts
Total messages processed by workers: 672 from 5 hosts
`;
  const s = parseNetconsdStats(out)!;
  assert.equal(s.listenerMessages, 672);
  assert.equal(s.workerMessages, 672);
  assert.equal(s.hosts, 5);
  assert.deepEqual(s.workers, [
    { worker: 0, messages: 400, hosts: 3 },
    { worker: 1, messages: 272, hosts: 2 },
  ]);
  assert.equal(s.listeners.length, 2);
  assert.equal(s.gcCollected, 0);
  assert.equal(parseNetconsdStats("nothing here\n"), null);
  // netconsd -g: every collection logs how many host states it dropped.
  const gc = parseNetconsdStats(`[netconsd] worker.c:356: INFO: Worker 1 GC'd 7 in 0ms
[netconsd] worker.c:356: INFO: Worker 0 GC'd 3 in 12ms
[netconsd] threads.c:111: INFO: Total messages processed by workers: 6000 from 10 hosts
`)!;
  assert.equal(gc.gcCollected, 10);
  assert.equal(gc.gcRuns, 2);
  assert.equal(gc.workerMessages, 6000);
});

test("output keeper: head and tail of a long output, the middle counted", () => {
  const k = new OutputKeeper();
  k.add("start-up line\n");
  assert.equal(k.text(), "start-up line\n");
  const chunk = `${"x".repeat(1023)}\n`;
  for (let i = 0; i < 4096; i++) k.add(chunk); // 4 MiB, as a printer module writes
  k.add("Total messages processed by workers: 5 from 1 hosts\n");
  const text = k.text();
  assert.ok(text.startsWith("start-up line\n"));
  assert.ok(text.length < (1 << 20) + (256 << 10) + 100, `kept ${text.length}`);
  assert.match(text, /\[\.\.\. \d+ characters of output not kept \.\.\.\]/);
  assert.equal(parseNetconsdStats(text)?.workerMessages, 5);
  assert.equal(k.lastLines(1), "Total messages processed by workers: 5 from 1 hosts");
  assert.equal(k.total, 14 + 4096 * 1024 + 52);
});

/** A minimal results object for the recommendation (only the fields it reads). */
function fakeResults(
  plan: string,
  points: {
    point: Record<string, unknown>;
    pps: number;
    lost?: number;
    rss?: number;
    p99?: number;
    search?: boolean;
  }[],
): Results {
  const trials = points.map((p, i) => ({
    trial: i,
    rate: { targetPps: p.pps, achievedPps: p.pps, deliveredPps: p.pps },
    loss: { packets: p.lost ?? 0, ratio: 0, source: "" },
    latencyUs: p.p99 === undefined ? undefined : { endToEnd: { count: 1, p99: p.p99 } },
    target: {
      cpuMs: 0,
      rssIdleBytes: 0,
      rssPeakBytes: p.rss ?? 0,
      rssFinalBytes: p.rss ?? 0,
      memoryPerHostBytes: 0,
    },
  }));
  return {
    plan,
    trials,
    points: points.map((p, i) => ({
      label: `p${i}`,
      point: p.point,
      kind: p.search ? "zero-loss-search" : "once",
      trials: [i],
      bestTrial: i,
      search: p.search
        ? { zeroLossPps: p.pps, failedPps: p.pps + 5000, stoppedBy: "resolution", steps: [] }
        : undefined,
      thresholds: [],
    })),
    summary: {},
  } as unknown as Results;
}

test("recommendation: the cheapest configuration within 5% of the best, with the gain of one more thread", () => {
  const sweep = fakeResults("sweep", [
    { point: { listeners: 1, workers: 1 }, pps: 100_000, p99: 900, search: true },
    { point: { listeners: 1, workers: 2 }, pps: 200_000, p99: 1500, search: true },
    { point: { listeners: 1, workers: 4 }, pps: 205_000, p99: 1800, search: true },
    { point: { listeners: 2, workers: 2 }, pps: 240_000, p99: 1700, search: true },
    { point: { listeners: 2, workers: 4 }, pps: 245_000, p99: 1800, search: true },
  ]);
  assert.equal(
    recommend(sweep),
    "-l 2 -w 2 held 240k msg/s with no loss; p99 1.70 ms; +20.0% over fewer listeners (-l 1 -w 2); +2.1% with more workers (-l 2 -w 4) (best: -l 2 -w 4 at 245k msg/s).",
  );
  const hosts = fakeResults("sweep", [
    { point: { "load.hosts": 1000 }, pps: 5000, rss: 100e6 },
    { point: { "load.hosts": 5000 }, pps: 5000, rss: 100e6 + 4000 * 21_000 },
    { point: { "load.hosts": 9000 }, pps: 5000, rss: 100e6 + 8000 * 21_000, lost: 12 },
  ]);
  assert.equal(
    recommend(hosts),
    "RSS grew by 20.5 KiB per unit of load.hosts (linear fit over 3 steps); loss began at load.hosts=9000 (12 datagrams lost).",
  );
  const none = fakeResults("sweep", [
    { point: { listeners: 1, workers: 1 }, pps: 0, search: true },
  ]);
  assert.equal(recommend(none), "No configuration of the sweep ran without loss.");
});
