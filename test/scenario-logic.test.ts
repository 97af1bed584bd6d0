/**
 * Pure logic of the scenarios: threshold parsing and evaluation, the zero-loss search against a
 * synthetic device, the A/B verdict, the scenario schema's error messages, /proc parsers.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseProcStat, parseProcStatus } from "../receiver/procfs.ts";
import { compareRuns } from "../scenarios/compare.ts";
import { parseNetconsdStats } from "../scenarios/netconsd-output.ts";
import { UsageError } from "../scenarios/options.ts";
import { OutputKeeper } from "../scenarios/output-keeper.ts";
import { gridPoints } from "../scenarios/points.ts";
import { type Results, recommend } from "../scenarios/results.ts";
import { loadScenario } from "../scenarios/scenario-loader.ts";
import { checkThresholdFields, figureNames, unknownField } from "../scenarios/threshold-fields.ts";
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
  assert.match(p99.message, /FAILED \(7,234\), off by 2,234 \(44\.7%\)/);
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
  assert.match(msg, /load\.duration: expected a duration such as 500ms, 10s or 2m/);
  assert.match(msg, /load\.hosts: expected an integer from 1 to/);
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
    /\(with --set\): load\.rate: expected/,
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
    /** A search's primary goal: [lower, upper] bounds, and whether it concluded. */
    bounds?: [number | null, number | null];
    conclusive?: boolean;
  }[],
  /** plan.each.equivalence of the sweep (absent: the schema's default). */
  equivalence?: number,
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
  const goal = (p: (typeof points)[number]) => {
    const [lower, upper] = p.bounds!;
    const conclusive = p.conclusive ?? true;
    return {
      name: "ndr",
      lossRatio: 0,
      finalTrialDurationMs: 1000,
      durationSumMs: 3000,
      exceedRatio: 0.5,
      width: 0.05,
      status: !conclusive ? "inconclusive" : lower === null ? "below-min-load" : "found",
      conclusive,
      lowerBoundPps: lower,
      upperBoundPps: upper,
      conditionalThroughputPps: lower,
      relativeWidth: lower !== null && upper !== null ? (upper - lower) / upper : null,
      trialsAtLowerBound: 2,
      trialsAtUpperBound: 2,
    };
  };
  return {
    plan,
    trials,
    points: points.map((p, i) => ({
      label: `p${i}`,
      point: p.point,
      kind: p.bounds ? "search" : "once",
      trials: [i],
      bestTrial: i,
      search: p.bounds
        ? {
            minLoadPps: 1000,
            maxLoadPps: 100_000,
            stoppedBy: p.conclusive === false ? "max-trials" : "complete",
            conclusive: p.conclusive ?? true,
            goals: [goal(p)],
            steps: [],
            elapsedMs: 0,
          }
        : undefined,
      thresholds: [],
    })),
    summary: {},
    scenario:
      equivalence === undefined
        ? undefined
        : { definition: { plan: { kind: "sweep", each: { kind: "search", equivalence } } } },
  } as unknown as Results;
}

test("recommendation: overlapping bounds are equivalent, the cheapest of the best group is named", () => {
  const lw = (l: number, w: number) => ({ listeners: l, workers: w });
  const tied = fakeResults(
    "sweep",
    [
      { point: lw(1, 1), pps: 0, bounds: [20_000, 21_000] },
      { point: lw(1, 2), pps: 0, bounds: [47_000, 49_000] },
      { point: lw(2, 1), pps: 0, bounds: [46_000, 48_500] },
      { point: lw(2, 2), pps: 0, bounds: [51_000, 54_000] },
    ],
    0,
  );
  // With equivalence 0, only overlapping bounds are equivalent. -l 2 -w 2 is best at 51k; -l 1 -w 2 and -l 2 -w 1 reach below 51k: not equivalent to it.
  assert.equal(
    recommend(tied),
    "-l 2 -w 2 is best at 0% loss (goal ndr): 51,000-54,000/s, clear of the next, -l 1 -w 2 (47,000-49,000/s).",
  );
  const overlap = fakeResults(
    "sweep",
    [
      { point: lw(1, 1), pps: 0, bounds: [20_000, 21_000] },
      { point: lw(1, 2), pps: 0, bounds: [48_000, 52_000] },
      { point: lw(2, 1), pps: 0, bounds: [46_000, 51_500] },
      { point: lw(2, 2), pps: 0, bounds: [51_000, 54_000] },
    ],
    0,
  );
  assert.equal(
    recommend(overlap),
    "-l 1 -w 2, -l 2 -w 1 and -l 2 -w 2 are equivalent within the measurement's precision at 0% loss (goal ndr) (46,000-54,000/s); the cheapest is -l 1 -w 2 (-l 2 -w 1 has as few threads).",
  );
  // An inconclusive point is never ranked, however high its bracket reaches.
  const open = fakeResults("sweep", [
    { point: lw(1, 1), pps: 0, bounds: [20_000, 21_000] },
    { point: lw(1, 2), pps: 0, bounds: [1000, 90_000], conclusive: false },
    { point: lw(2, 2), pps: 0, bounds: [null, 1000] },
  ]);
  assert.equal(
    recommend(open),
    "-l 1 -w 1 is best at 0% loss (goal ndr): 20,000-21,000/s. Not compared, their searches ran out of trials or time: -l 1 -w 2 (inconclusive: between 1,000/s and 90,000/s); raise plan.each.maxTrials or plan.each.timeLimit. -l 2 -w 2 lost even at the lowest load (1,000/s).",
  );
  // Measured while other processes took most of the machine: the bounds are that moment's.
  const busy = structuredClone(tied);
  busy.environment = { otherCpuShare: 0.62 } as Results["environment"];
  assert.equal(
    recommend(busy),
    "No configuration can be named best: other processes took 62% of the machine's CPU during the sweep (above 25%), so the leaders are tied. Measured at 0% loss (goal ndr): -l 2 -w 2 51,000-54,000/s, -l 1 -w 2 47,000-49,000/s, -l 2 -w 1 46,000-48,500/s, -l 1 -w 1 20,000-21,000/s; repeat on a quiet machine.",
  );
  busy.environment.otherCpuShare = 0.1;
  assert.equal(recommend(busy), recommend(tied));
  const none = fakeResults("sweep", [
    { point: lw(1, 1), pps: 0, bounds: [1000, 26_000], conclusive: false },
  ]);
  assert.match(recommend(none), /^No configuration has a conclusive throughput\. Not compared/);
  // Two real quiet sweeps (seeds 31 and 32) of our receiver: the two-listener points swapped
  // places, each "clear of the next" within its own run. With the default equivalence (20%) both
  // runs name the same configuration.
  const points31 = [
    { point: lw(1, 1), pps: 0, bounds: [19_555, 20_300] as [number, number] },
    { point: lw(1, 2), pps: 0, bounds: [16_557, 17_200] as [number, number] },
    { point: lw(2, 1), pps: 0, bounds: [35_910, 37_193] as [number, number] },
    { point: lw(2, 2), pps: 0, bounds: [30_393, 31_261] as [number, number] },
  ];
  const points32 = [
    { point: lw(1, 1), pps: 0, bounds: [20_895, 21_700] as [number, number] },
    { point: lw(1, 2), pps: 0, bounds: [15_444, 16_100] as [number, number] },
    { point: lw(2, 1), pps: 0, bounds: [29_498, 30_780] as [number, number] },
    { point: lw(2, 2), pps: 0, bounds: [35_173, 36_580] as [number, number] },
  ];
  const expected =
    /^-l 2 -w 1 and -l 2 -w 2 are equivalent within the measurement's precision at 0% loss \(goal ndr\) \(\d[\d,]*-\d[\d,]*\/s, bounds within 20% of the best as repeated sweeps move them \(plan\.each\.equivalence\)\); the cheapest is -l 2 -w 1\.$/;
  assert.match(recommend(fakeResults("sweep", points31)), expected);
  assert.match(recommend(fakeResults("sweep", points32)), expected);
  // A results.json written before the key existed: its plan has no equivalence, the default holds.
  const older = fakeResults("sweep", points31);
  older.scenario = {
    definition: { plan: { kind: "sweep", each: { kind: "search" } } },
  } as unknown as Results["scenario"];
  assert.match(recommend(older), expected);
  // With equivalence 0 the two runs name different winners, which is what the setting is for.
  assert.match(recommend(fakeResults("sweep", points31, 0)), /^-l 2 -w 1 is best/);
  assert.match(recommend(fakeResults("sweep", points32, 0)), /^-l 2 -w 2 is best/);
});

test("recommendation: single trials, host sweeps", () => {
  const sweep = fakeResults("sweep", [
    { point: { listeners: 1, workers: 1 }, pps: 100_000, p99: 900 },
    { point: { listeners: 1, workers: 2 }, pps: 200_000, p99: 1500 },
    { point: { listeners: 2, workers: 2 }, pps: 240_000, p99: 1700 },
  ]);
  assert.equal(
    recommend(sweep),
    "-l 2 -w 2 delivered 240,000/s with no loss; p99 1.70 ms; +20% over fewer listeners (-l 1 -w 2).",
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
});

test("schema: load and target.options are checked by the blaster's and the receiver's own schemas", () => {
  const dir = mkdtempSync(join(tmpdir(), "ncb-schema-"));
  const file = join(dir, "keys.yaml");
  const fails = (text: string) => {
    writeFileSync(file, text);
    assert.throws(() => loadScenario(file), UsageError);
    try {
      loadScenario(file);
    } catch (e) {
      return (e as Error).message;
    }
    return "";
  };
  assert.match(
    fails("name: x\ntarget: { kind: receiver, options: { seqWindow: 33, queueLimt: 5 } }\n"),
    /target\.options\.seqWindow: expected a multiple of 32[^\n]*\n.*target\.options: Unrecognized key: "queueLimt"|target\.options: unknown key "queueLimt"/s,
  );
  assert.match(
    fails("name: x\ntarget: { kind: receiver, options: { maxHosts: -1 } }\n"),
    /keys\.yaml: target\.options\.maxHosts: expected an integer/,
  );
  assert.match(
    fails("name: x\ntarget: { kind: receiver }\nload: { rat: 5 }\n"),
    /load: unknown key "rat"/,
  );
  assert.match(
    fails("name: x\ntarget: { kind: receiver }\nload: { target: '127.0.0.1:9' }\n"),
    /load\.target: set by the runner/,
  );
  assert.match(
    fails("name: x\ntarget: { kind: receiver }\nload: { workers: 8, hosts: 4 }\n"),
    /load\.workers: 8 is more than load\.hosts 4/,
  );
  writeFileSync(
    file,
    "name: ok\ntarget: { kind: receiver, options: { rcvbuf: 4194304, queueLimit: 1024 } }\nload: { rate: 20k, duration: 2s, size: 200-900 }\n",
  );
  const ok = loadScenario(file).scenario;
  assert.deepEqual([ok.load.rate, ok.load.duration, ok.load.size], [20_000, 2000, "200-900"]);
});

test("hostile scenario files: one line, exit-2 errors, never a crash or a stall", () => {
  const dir = mkdtempSync(join(tmpdir(), "ncb-hostile-"));
  const file = join(dir, "evil.yaml");
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
  // An alias bomb: 9^6 strings from a few lines.
  let bomb = 'a0: &a0 ["x","x","x","x","x","x","x","x","x"]\n';
  for (let i = 1; i < 7; i++)
    bomb += `a${i}: &a${i} [${Array(9)
      .fill(`*a${i - 1}`)
      .join(",")}]\n`;
  assert.match(fails(`name: x\n${bomb}`), /evil\.yaml: not valid YAML: .*\(at most 50 aliases\)/);
  // A big file is refused before it is parsed.
  const started = Date.now();
  let big = "name: x\n";
  for (let i = 0; big.length < 2 << 20; i++) big += `k${i}: ${i}\n`;
  assert.match(fails(big), /evil\.yaml: \d+ bytes is more than a scenario file may have \(65536\)/);
  assert.ok(Date.now() - started < 5000);
  assert.match(fails("name: x\nname: y\n"), /key "name" appears twice/);
  // --set cannot reach Object.prototype.
  const base = "name: x\ntarget: { kind: receiver }\n";
  assert.match(
    fails(base, ["__proto__.x=1"]),
    /--set "__proto__\.x=1": "__proto__" is not a scenario key/,
  );
  assert.match(
    fails(base, ["target.constructor.prototype.x=1"]),
    /"constructor" is not a scenario key/,
  );
  assert.equal(({} as Record<string, unknown>).x, undefined);
  // A YAML key named __proto__ stays data: it is an unknown key, not a prototype.
  assert.match(fails(`${base}__proto__: { polluted: 1 }\n`), /unknown key "__proto__"/);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test("every bundled scenario file is valid, with the blaster's and receiver's keys", () => {
  const dir = new URL("../scenarios/", import.meta.url).pathname;
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
  assert.ok(files.length >= 7, files.join(" "));
  for (const f of files) {
    const { scenario } = loadScenario(join(dir, f));
    assert.equal(`${scenario.name}.yaml`, f);
    // Their thresholds name figures their plans produce (checked again before every run).
    checkThresholdFields(scenario.thresholds.map(parseThreshold), scenario, f);
  }
  const ci = loadScenario(join(dir, "ci-regression.yaml")).scenario.plan;
  assert.ok(ci.kind === "compare" && ci.each.kind === "search");
  assert.deepEqual(
    ci.each.kind === "search" && [ci.each.goals[0].lossRatio, ci.each.goals[0].exceedRatio],
    [0.001, 0.5],
  );
});

test("threshold fields are resolved against the plan's figures, with the closest valid name", () => {
  const dir = mkdtempSync(join(tmpdir(), "ncb-fields-"));
  const file = join(dir, "f.yaml");
  writeFileSync(file, "name: f\ntarget: { kind: receiver }\n");
  const once = figureNames(loadScenario(file).scenario);
  assert.equal(unknownField(once, "drops.total"), null);
  assert.equal(unknownField(once, "receiver.perWorker.anything"), null, "reports stay open");
  assert.equal(unknownField(once, "sequence.missing"), null);
  assert.match(unknownField(once, "drops.totl")!, /did you mean drops\.total\?$/);
  assert.match(unknownField(once, "sequence.mising")!, /did you mean sequence\.missing\?$/);
  assert.match(unknownField(once, "rate.targetPps.x")!, /rate\.targetPps is a number/);
  assert.match(unknownField(once, "rate")!, /rate is a group of figures, not one/);
  assert.match(unknownField(once, "search.ndr.lowerBoundPps")!, /not a figure this plan produces/);
  writeFileSync(
    file,
    "name: f\ntarget: { kind: receiver }\nplan: { kind: search, maxLoad: 1000 }\n",
  );
  const searched = figureNames(loadScenario(file).scenario);
  assert.equal(unknownField(searched, "search.pdr.conditionalThroughputPps"), null);
  assert.match(
    unknownField(searched, "search.ndr.lowerBound")!,
    /did you mean search\.ndr\.lowerBoundPps\?$/,
  );
});
