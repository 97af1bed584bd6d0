/**
 * `netcons-bench run` end to end on loopback: a small listeners x workers sweep into our
 * receiver (real blaster, real receiver threads), an external command target (the UDP counting
 * program), thresholds setting exit codes 0 and 99, schema errors exiting 2, and Ctrl-C mid-sweep
 * writing the results gathered so far.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { Results } from "../scenarios/results.ts";
import { runScenario } from "../scenarios/runner.ts";
import { loadScenario } from "../scenarios/scenario-loader.ts";

const cli = new URL("../scenarios/cli.ts", import.meta.url).pathname;
const counter = new URL("./udp-counter.ts", import.meta.url).pathname;

function scenarioFile(text: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), "ncb-run-"));
  const file = join(dir, "scenario.yaml");
  writeFileSync(file, text);
  return { dir, file };
}

/** `netcons-bench run ARGS...` in a child process (bounded in time). */
function runCli(...args: string[]) {
  return spawnSync(process.execPath, [cli, "run", ...args], { encoding: "utf8", timeout: 90_000 });
}

function readResults(out: string): Results {
  return JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as Results;
}

test("a 1x2 listeners x workers sweep runs end to end into our receiver", async () => {
  const { dir, file } = scenarioFile(`name: tiny-sweep
target: { kind: receiver, options: { rcvbuf: 4194304 } }
load: { duration: 1s, rate: 2000, hosts: 8, seed: 99, loss: 0.02 }
plan: { kind: sweep, grid: { listeners: [1], workers: [1, 2] } }
thresholds:
  - "ledger.balanced == 1"
  - "sequence.missing == expected.missing"
  - "injected.lost > 0"
`);
  const out = join(dir, "out");
  const events: string[] = [];
  const results = await runScenario(loadScenario(file), {
    outDir: out,
    onEvent: (e) => events.push(e.type),
  });
  assert.equal(results.status, "complete");
  assert.equal(results.trials.length, 2);
  assert.deepEqual(
    results.points.map((p) => p.point),
    [
      { listeners: 1, workers: 1 },
      { listeners: 1, workers: 2 },
    ],
  );
  for (const t of results.trials) {
    assert.equal((t.receiver as { config: { workers: number } }).config.workers, t.point.workers);
    assert.ok(t.sent.packetsOnWire > 1000, `${t.sent.packetsOnWire} sent`);
    assert.equal(t.rate.targetPps, 2000);
    assert.ok(t.latencyUs?.endToEnd.count);
  }
  for (const p of results.points) assert.equal(p.thresholds.length, 3);
  assert.equal(results.environment.seed, 99);
  assert.ok(results.environment.cpus >= 1 && results.environment.kernel !== "");
  assert.ok(results.samples.length >= 4);
  assert.ok(events.includes("plan") && events.filter((e) => e === "trial-end").length === 2);
  // results.json on disk is what the call returned; the report sits beside it.
  assert.deepEqual(readResults(out).trials.length, 2);
  assert.ok(existsSync(join(out, "report.html")));
  assert.match(results.recommendation, /^-l 1 -w [12] delivered/);
});

test("an external command target with thresholds: exit 0 when they hold, 99 with the margin when not", () => {
  const { dir, file } = scenarioFile(`name: external
target:
  kind: command
  command: "{node} ${counter} --port {port} --listeners {listeners}"
  listeners: 2
load: { duration: 1s, rate: 1000, hosts: 4, seed: 1 }
thresholds:
  - "target.netconsd.processed == sent.packetsOnWire"
  - "target.netconsd.hosts == target.netconsd.hostsSent"
  - "ledger.balanced == 1"
  - "loss.packets == 0"
`);
  const ok = runCli(file, "--out-dir", join(dir, "ok"));
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  const r = readResults(join(dir, "ok"));
  const t = r.trials[0];
  assert.equal(t.targetKind, "command");
  assert.equal(t.target.netconsd?.processed, t.sent.packetsOnWire);
  assert.equal(t.target.exitCode, 0);
  assert.ok(t.target.rssPeakBytes > 0 && t.target.cpuMs >= 0);
  assert.match(
    readFileSync(t.target.logFile!, "utf8"),
    /Total messages processed by workers: \d+ from 4 hosts/,
  );
  assert.match(ok.stdout, /ok {3}\[once\] target\.netconsd\.processed == sent\.packetsOnWire: ok/);

  const bad = runCli(
    file,
    "--out-dir",
    join(dir, "bad"),
    "--set",
    'thresholds=["target.netconsd.hosts == 5", "loss.packets == 0"]',
  );
  assert.equal(bad.status, 99, bad.stdout + bad.stderr);
  assert.match(
    bad.stdout,
    /FAIL \[once\] target\.netconsd\.hosts == 5: FAILED \(4\), off by -1 \(-20%\)/,
  );
  assert.match(bad.stderr, /1 threshold\(s\) failed/);
  assert.equal(readResults(join(dir, "bad")).failedThresholds.length, 1);
});

test("run colours its FAIL verdict when colour is forced and never with NO_COLOR", () => {
  const { dir, file } = scenarioFile(`name: colour
target: { kind: receiver }
load: { duration: 1s, rate: 500, hosts: 2, seed: 3 }
thresholds:
  - "loss.packets < 0"
`);
  const { FORCE_COLOR: _f, NO_COLOR: _n, NODE_DISABLE_COLORS: _d, ...env } = process.env;
  const run = (name: string, extra: Record<string, string>) =>
    spawnSync(process.execPath, [cli, "run", file, "--out-dir", join(dir, name)], {
      encoding: "utf8",
      timeout: 90_000,
      env: { ...env, ...extra },
    });
  const forced = run("forced", { FORCE_COLOR: "1" });
  assert.equal(forced.status, 99, forced.stdout + forced.stderr);
  // bold red around the word, reset after it (util.styleText's codes)
  assert.match(
    forced.stdout,
    /\u001b\[1m\u001b\[31mFAIL\u001b\[39m\u001b\[22m \[once\] loss\.packets < 0: FAILED/,
  );
  const plain = run("plain", { NO_COLOR: "1" });
  assert.equal(plain.status, 99, plain.stdout + plain.stderr);
  assert.match(plain.stdout, /^ {2}FAIL \[once\] loss\.packets < 0: FAILED \(0\), at the limit$/m);
  assert.doesNotMatch(plain.stdout + plain.stderr, /\u001b\[/);
  assert.equal(plain.stderr.trim().split("\n").at(-1), "netcons-bench: run: 1 threshold(s) failed");
});

test("a target that dies during the load fails its trial: nothing it took in is confirmed", () => {
  // The counter is killed 3 s after it was started, inside the 4 s load (which begins once it
  // has bound and warmed up), before it can print any statistics; its socket (and the socket's
  // drop counter) goes with it.
  const { dir, file } = scenarioFile(`name: dies
target:
  kind: command
  command: "{node} ${counter} --port {port} & sleep 3; kill -KILL $!"
  warmup: 500ms
load: { duration: 4s, rate: 1000, hosts: 4, seed: 1 }
thresholds:
  - "rate.achievedPps >= 900"
`);
  const r = runCli(file, "--out-dir", join(dir, "out"));
  assert.equal(r.status, 99, r.stdout + r.stderr);
  assert.match(r.stdout, /FAIL \[once\] trial 0: the target exited during the trial \(code 0/);
  const t = readResults(join(dir, "out")).trials[0];
  assert.match(t.error ?? "", /exited during the trial/);
  assert.equal(t.loss.packets, t.sent.packetsOnWire);
  assert.match(t.loss.source, /nothing it received can be confirmed/);
  assert.equal(t.rate.deliveredPps, 0);
});

test("a target that ignores SIGTERM is killed after the grace period and fails its trial", () => {
  const { dir, file } = scenarioFile("name: deaf\n");
  const deaf = join(dir, "deaf.mjs");
  writeFileSync(
    deaf,
    `import { createSocket } from "node:dgram";
const s = createSocket({ type: "udp6", ipv6Only: false });
s.on("message", () => {});
s.bind(Number(process.argv[2]), "::");
process.on("SIGTERM", () => {}); // deaf: no statistics, no exit
`,
  );
  writeFileSync(
    file,
    `name: deaf
target: { kind: command, command: "{node} ${deaf} {port}", warmup: 200ms, stopTimeout: 500ms }
load: { duration: 500ms, rate: 1000, hosts: 2, seed: 1 }
thresholds: ["loss.packets == 0"]
`,
  );
  const r = runCli(file, "--out-dir", join(dir, "out"));
  assert.equal(r.status, 99, r.stdout + r.stderr);
  assert.match(r.stdout, /ok {3}\[once\] loss\.packets == 0/);
  assert.match(
    r.stdout,
    /FAIL \[once\] trial 0: the target did not exit within target\.stopTimeout/,
  );
  const t = readResults(join(dir, "out")).trials[0];
  assert.equal((t.external as { killed: boolean }).killed, true);
  assert.equal(t.target.exitSignal, "SIGKILL");
});

test("a bad scenario file exits 2 naming the file, the key and the expected form", () => {
  const { file } = scenarioFile("name: x\ntarget: { kind: receiver, workers: many }\n");
  const r = runCli(file);
  assert.equal(r.status, 2);
  assert.equal(
    r.stderr.trim(),
    `netcons-bench: ${file}: target.workers: expected a positive integer`,
  );
  const missing = runCli("/nonexistent.yaml");
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /\/nonexistent\.yaml: cannot read the scenario file \(ENOENT\)/);
  // An output directory that cannot be made is bad input too: one line, exit 2, nothing run.
  const good = scenarioFile("name: y\ntarget: { kind: receiver }\n");
  const notDir = join(good.dir, "a-file");
  writeFileSync(notDir, "");
  const badOut = runCli(good.file, "--out-dir", join(notDir, "out"));
  assert.equal(badOut.status, 2, badOut.stderr);
  assert.equal(
    badOut.stderr,
    `netcons-bench: cannot create --out-dir ${join(notDir, "out")}: ENOTDIR\n`,
  );
});

test("Ctrl-C mid-sweep stops, and results.json and report.html hold the trials so far", async () => {
  const { dir, file } = scenarioFile(`name: interrupted
target: { kind: receiver }
load: { duration: 2s, rate: 1000, hosts: 4, seed: 5 }
plan: { kind: sweep, grid: { workers: [1, 2, 3, 4] } }
`);
  const out = join(dir, "out");
  const child = spawn(process.execPath, [cli, "run", file, "--out-dir", out], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  // Wait (bounded) until the first trial is written, then interrupt the second.
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (existsSync(join(out, "results.json")) && readResults(out).trials.length >= 1) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 1000));
  child.kill("SIGINT");
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  assert.equal(code, 130, stderr);
  assert.match(stderr, /SIGINT: stopping after the current trial, writing the results so far/);
  const r = readResults(out);
  assert.equal(r.status, "interrupted");
  assert.ok(r.trials.length >= 1 && r.trials.length < 4, `${r.trials.length} trials`);
  assert.ok(r.trials[0].sent.packetsOnWire > 0 && !r.trials[0].interrupted);
  // The trial running at the signal was cut short, and says so.
  assert.equal(r.trials.at(-1)!.interrupted, true);
  assert.ok(r.environment.finishedAt !== null);
  assert.match(
    readFileSync(join(out, "report.html"), "utf8"),
    /Run interrupted; these are the results gathered so far/,
  );
});

test("ci-regression's compare plan: A B alternation, and a candidate that loses messages exits 99", () => {
  const { dir, file } = scenarioFile(`name: ab
target:
  kind: command
  command: "{node} ${counter} --port {port}"
  warmup: 200ms
load: { duration: 1s, rate: 1000, hosts: 4, seed: 2 }
plan:
  kind: compare
  rounds: 2
  baseline: { command: "{node} ${counter} --port {port}" }
  candidate: { command: "{node} ${counter} --port {port} --lose-every 50" }
thresholds: ["compare.regressions == 0"]
`);
  const r = runCli(file, "--out-dir", join(dir, "out"));
  assert.equal(r.status, 99, r.stdout + r.stderr);
  const results = readResults(join(dir, "out"));
  assert.deepEqual(
    results.points.map((p) => `${p.side}${p.point.round}`),
    ["A1", "B1", "A2", "B2"],
  );
  for (const p of results.points) {
    const t = results.trials[p.bestTrial!];
    assert.match(t.target.outputTail ?? "", /Total messages processed by workers/);
    assert.equal(t.loss.packets > 0, p.side === "B", `${p.side}: ${t.loss.packets} lost`);
  }
  const loss = results.compare!.metrics.find((m) => m.metric === "lossRatio")!;
  assert.equal(loss.verdict, "regression");
  assert.ok(
    loss.b.every((x) => x > 0.015 && x < 0.025),
    String(loss.b),
  );
  assert.equal(results.compare!.metrics.find((m) => m.metric === "p99Us")!.verdict, "n/a");
  assert.match(r.stdout, /FAIL compare\.regressions == 0: FAILED \(1\), off by 1/);
  assert.match(r.stdout, /REGRESSION in lossRatio/);
});

test("a threshold naming a figure the plan does not produce is exit 2 before any load, with the closest name", () => {
  const { dir, file } = scenarioFile(`name: typo
target: { kind: receiver }
load: { duration: 1s, rate: 1000, hosts: 4 }
thresholds: ["drops.totl == 0"]
`);
  const out = join(dir, "out");
  const r = runCli(file, "--out-dir", out);
  assert.equal(r.status, 2, r.stderr);
  assert.equal(
    r.stderr,
    `netcons-bench: ${file}: threshold "drops.totl == 0": drops.totl is not a figure this plan produces; did you mean drops.total?\n`,
  );
  assert.equal(existsSync(join(out, "results.json")), false, "nothing ran");
  // Search goals are figures only when the plan searches, under the goals' own names.
  const search = scenarioFile(`name: goals
target: { kind: receiver }
plan: { kind: search, maxLoad: 2000, goals: [{ name: nodrop, lossRatio: 0 }] }
thresholds: ["search.ndr.lowerBoundPps > 0"]
`);
  const s = runCli(search.file, "--out-dir", join(search.dir, "out"));
  assert.equal(s.status, 2, s.stderr);
  assert.match(
    s.stderr,
    /search\.ndr\.lowerBoundPps is not a figure this plan produces; did you mean search\.nodrop\.lowerBoundPps\?/,
  );
  // --set cannot walk into Object.prototype: one line, exit 2.
  const proto = runCli(file, "--set", "__proto__.x=1");
  assert.equal(proto.status, 2);
  assert.equal(
    proto.stderr,
    `netcons-bench: --set "__proto__.x=1": "__proto__" is not a scenario key\n`,
  );
});

test("a search into our receiver: bounds per goal and the trials behind them; out of trials it says inconclusive everywhere", () => {
  const { dir, file } = scenarioFile(`name: search
target: { kind: receiver, options: { rcvbuf: 4194304 } }
load: { hosts: 8, seed: 4, size: 120 }
plan: { kind: search, minLoad: 250, maxLoad: 1000 }
thresholds: ["search.ndr.lowerBoundPps >= 250", "ledger.balanced == 1"]
`);
  // 1,000 msg/s is far below what the receiver takes: two good 1 s trials decide the top load
  // for both goals (the second goal reuses the first one's trials). A stray loss on a busy
  // machine costs a third trial, or a step down, not the answer.
  const ok = runCli(file, "--out-dir", join(dir, "ok"));
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  const r = readResults(join(dir, "ok"));
  const search = r.points[0].search!;
  assert.equal(search.stoppedBy, "complete");
  for (const g of search.goals) {
    assert.ok(
      g.conclusive && g.lowerBoundPps !== null && g.lowerBoundPps >= 250,
      JSON.stringify(g),
    );
    assert.ok(g.trialsAtLowerBound >= 2);
  }
  assert.deepEqual(
    search.goals.map((g) => g.name),
    ["ndr", "pdr"],
  );
  assert.deepEqual(
    search.steps.map((s) => s.trial),
    r.trials.map((t) => t.trial),
    "every trial is a step of the search",
  );
  assert.equal(search.steps[0].loadPps, 1000, "the top load first");
  assert.ok(search.steps.every((s) => s.durationMs === 1000));
  assert.match(r.recommendation, /^ndr \(0% loss\): /);
  assert.match(ok.stdout, /ndr \(0% loss\)\s+(max-load|found)/);
  const html = readFileSync(join(dir, "ok", "report.html"), "utf8");
  assert.match(html, /search\.ndr\.lowerBoundPps &#62;= 250: ok \([\d,]+\)/);
  assert.match(html, /load average [\d.]+ [\d.]+ [\d.]+ at the start/);

  // One trial cannot decide a load: the search is inconclusive, and every output says so.
  // With --json - stdout holds only results.json, and the table goes to stderr.
  const short = runCli(
    file,
    "--out-dir",
    join(dir, "short"),
    "--set",
    "plan.maxTrials=1",
    "--json",
    "-",
  );
  assert.equal(short.status, 99, short.stdout + short.stderr);
  const s = readResults(join(dir, "short"));
  assert.deepEqual(JSON.parse(short.stdout), s);
  assert.equal(s.points[0].search!.stoppedBy, "max-trials");
  assert.equal(s.points[0].search!.conclusive, false);
  assert.ok(s.points[0].search!.goals.every((g) => g.status === "inconclusive"));
  assert.match(
    s.recommendation,
    /ndr \(0% loss\): inconclusive: between nothing held and nothing too much;/,
  );
  assert.match(s.recommendation, /raise maxTrials or timeLimit/);
  assert.match(short.stderr, /INCONCLUSIVE \(max-trials\)/);
  assert.match(
    short.stderr,
    /FAIL \[search\] search\.ndr\.lowerBoundPps >= 250: FAILED, search goal ndr was inconclusive/,
  );
  assert.match(readFileSync(join(dir, "short", "report.html"), "utf8"), /inconclusive: between/);
});
