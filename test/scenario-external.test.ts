/**
 * External targets measured from outside, with a real child process (test/udp-counter.ts) on
 * real loopback sockets: the runner waits for the port, samples /proc, stops it with SIGTERM,
 * keeps its output and parses its netconsd-style exit statistics.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { BlastReport } from "../blaster/blast.ts";
import { checkCommandTarget, commandLedger } from "../scenarios/command-target.ts";
import { expandTemplate } from "../scenarios/command-template.ts";
import { resolveCommand } from "../scenarios/executable.ts";
import {
  type ExternalMeasurement,
  freeUdpPort,
  startExternalTarget,
  TargetError,
} from "../scenarios/external-process.ts";
import {
  type ProbeResult,
  probeBuildError,
  probeHostPath,
  probeModulePath,
} from "../scenarios/probe.ts";
import type { Results } from "../scenarios/results.ts";
import { loadScenario } from "../scenarios/scenario-loader.ts";
import { needs } from "./capabilities.ts";

const counter = new URL("./udp-counter.ts", import.meta.url).pathname;

test("expandTemplate fills placeholders, quotes odd values, refuses unknown ones", () => {
  assert.equal(
    expandTemplate("nd -l {listeners} -u {port}", { listeners: 2, port: 1514 }),
    "nd -l 2 -u 1514",
  );
  assert.equal(expandTemplate("x {dir}", { dir: "a b'c" }), `x 'a b'\\''c'`);
  assert.throws(
    () => expandTemplate("x {nope}", { port: 1 }),
    /unknown placeholder \{nope\} \(known: \{port\}\)/,
  );
});

test("an external command target: waits for the bind, counts, stops, parses its statistics", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ncb-ext-"));
  const port = await freeUdpPort();
  const logFile = join(dir, "target.log");
  const target = await startExternalTarget({
    command: expandTemplate("{node} {counter} --port {port} --listeners 2 --bind-delay-ms 300", {
      node: process.execPath,
      counter,
      port,
    }),
    port,
    readyTimeoutMs: 10_000,
    stopTimeoutMs: 5_000,
    logFile,
  });
  target.markLoadStart();
  const sender = createSocket("udp4");
  const n = 200;
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve, reject) =>
      sender.send(`6,${i},0,-;hello ${i}`, port, "127.0.0.1", (e) => (e ? reject(e) : resolve())),
    );
  }
  sender.close();
  await new Promise((r) => setTimeout(r, 300));
  const sample = target.sample();
  assert.ok(sample && sample.rssBytes > 0 && sample.sockets === 2, JSON.stringify(sample));
  target.measureLoadEnd();
  const m = await target.stop();
  assert.equal(m.exitCode, 0);
  assert.equal(m.killed, false);
  assert.equal(m.sockets, 2);
  assert.equal(m.socketDrops, 0);
  assert.equal(m.stats?.workerMessages, n, m.outputTail);
  assert.equal(m.stats?.hosts, 1);
  assert.equal(m.stats?.listeners.length, 2);
  assert.ok(
    m.rssPeakBytes >= m.rssFinalBytes && m.rssFinalBytes > 10 << 20,
    `rss ${m.rssFinalBytes}`,
  );
  assert.ok(m.cpuMs >= 0);
  assert.match(
    readFileSync(logFile, "utf8"),
    new RegExp(`Total messages processed by workers: ${n} from 1 hosts`),
  );
});

test("a target that exits before binding, or never binds, is a clear error", async () => {
  const port = await freeUdpPort();
  await assert.rejects(
    startExternalTarget({
      command: "echo no such daemon; exit 3",
      port,
      readyTimeoutMs: 5000,
      stopTimeoutMs: 1000,
    }),
    (e: unknown) =>
      e instanceof TargetError &&
      /exited \(code 3.*before binding port/s.test((e as Error).message) &&
      /no such daemon/.test((e as Error).message),
  );
  await assert.rejects(
    startExternalTarget({ command: "sleep 30", port, readyTimeoutMs: 300, stopTimeoutMs: 1000 }),
    /did not bind UDP port \d+ within 300 ms/,
  );
});

/** A target that binds the port, then writes `mib` MiB of module-style output; stats on SIGTERM. */
function verboseTarget(dir: string): string {
  const file = join(dir, "verbose-target.mjs");
  writeFileSync(
    file,
    `import { spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
const [port, mib] = process.argv.slice(2).map(Number);
const line = "::ffff:127.0.0.1: 6.1.0 S000001 T00000000000001 F0/L6 printer-style line\\n";
const block = line.repeat(Math.ceil(65536 / line.length));
for (let n = 0; n < (mib << 20); n += block.length) process.stdout.write(block);
const s = createSocket({ type: "udp6", ipv6Only: false });
s.bind(port, "::");
process.once("SIGTERM", () => {
  process.stdout.write("[netconsd] threads.c:111: INFO: Total messages processed by workers: 7 from 1 hosts\\n");
  s.close();
});
`,
  );
  return file;
}

test("a verbose target (an output module on stdout): the exit statistics after megabytes of output are still parsed", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ncb-ext-"));
  const port = await freeUdpPort();
  const target = await startExternalTarget({
    command: `${process.execPath} ${verboseTarget(dir)} ${port} 3`,
    port,
    readyTimeoutMs: 10_000,
    stopTimeoutMs: 5_000,
    logFile: join(dir, "target.log"),
  });
  const m = await target.stop();
  assert.equal(m.stats?.workerMessages, 7, m.outputTail);
  assert.equal(m.stats?.hosts, 1);
  assert.match(m.outputTail, /processed by workers: 7 from 1 hosts$/);
  // The log file keeps everything.
  assert.ok(statSync(join(dir, "target.log")).size > 3 << 20);
});

test("a pipeline target: a filter stage that outlives SIGTERM delivers the statistics; a stage that holds the pipes past the grace period is killed", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ncb-ext-"));
  const script = verboseTarget(dir);
  let port = await freeUdpPort();
  // The recipe for netconsd + printer.so with its output dropped: only netconsd's own lines pass.
  const filtered = await startExternalTarget({
    command: `${process.execPath} ${script} ${port} 2 | (trap '' TERM; exec grep --line-buffered '^\\[netconsd\\]')`,
    port,
    readyTimeoutMs: 10_000,
    stopTimeoutMs: 5_000,
  });
  const f = await filtered.stop();
  assert.equal(f.stats?.workerMessages, 7, f.outputTail);
  assert.equal(f.killed, false);

  port = await freeUdpPort();
  const lingering = await startExternalTarget({
    command: `${process.execPath} ${script} ${port} 0 & (trap '' TERM; exec sleep 30)`,
    port,
    readyTimeoutMs: 10_000,
    stopTimeoutMs: 1_000,
  });
  const t0 = Date.now();
  const l = await lingering.stop();
  assert.ok(Date.now() - t0 < 4_000, `stop took ${Date.now() - t0} ms`);
  assert.equal(l.killed, true);
  assert.equal(l.stats?.workerMessages, 7, l.outputTail);
  // Nothing of the group is left running (a killed orphan may stay a zombie until reaped).
  assert.deepEqual(liveMembers(l.pid), []);
});

/** Processes of process group `pgid` that are not zombies, from /proc/PID/stat. */
function liveMembers(pgid: number): string[] {
  const out: string[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue;
    }
    // Fields after the command name: state ppid pgrp ...
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(pgrp) === pgid && state !== "Z") out.push(stat);
  }
  return out;
}

const cli = new URL("../scenarios/cli.ts", import.meta.url).pathname;

/** `netcons-bench run FILE --out-dir DIR` in a child process; its results.json. */
function runScenario(dir: string, yaml: string) {
  const file = join(dir, "scenario.yaml");
  writeFileSync(file, yaml);
  const out = join(dir, "out");
  const r = spawnSync(process.execPath, [cli, "run", file, "--out-dir", out], {
    encoding: "utf8",
    timeout: 90_000,
  });
  const results = existsSync(join(out, "results.json"))
    ? (JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as Results)
    : null;
  return { ...r, results };
}

test("a command target with {probe}: its latency and a balanced delivery ledger are the trial's figures", (t) => {
  const module = probeModulePath();
  const host = probeHostPath();
  if (!needs(t, "cc", module && host ? null : (probeBuildError() ?? "no probe host program")))
    return;
  const dir = mkdtempSync(join(tmpdir(), "ncb-probe-target-"));
  // A real process (the counter) takes the load on real sockets; at exit it hands its counts to
  // the real probe module, which writes its real file where {probe} told it to.
  const r = runScenario(
    dir,
    `name: probed
target:
  kind: command
  command: "{node} {counter} --port {port} --probe-module {probe} --probe-host {probehost}"
  vars: { counter: "${counter}", probehost: "${host}" }
  warmup: 200ms
load: { duration: 1s, rate: 1000, hosts: 4, seed: 1, size: 64 }
thresholds:
  - "ledger.balanced == 1"
  - "latencyUs.endToEnd.p99 > 0"
  - "messages.extended == sent.packetsOnWire"
`,
  );
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const trial = r.results?.trials[0];
  assert.ok(trial);
  const onWire = trial.sent.packetsOnWire;
  assert.ok(onWire > 500, `${onWire} on the wire`);
  // the probe's latency sits where the receiver target puts its own
  const endToEnd = trial.latencyUs?.endToEnd;
  assert.ok(endToEnd && endToEnd.count === onWire && endToEnd.p99 > 0, JSON.stringify(endToEnd));
  // extended messages only: the probe measured no listener-to-output delay, and none is shown
  // (an empty histogram would read p99 = 0)
  assert.equal(trial.latencyUs?.queue, undefined);
  assert.equal(trial.messages?.extended, onWire);
  // sent = delivered to outputs + held at exit + kernel drops (+ lost on purpose: none here)
  const lines = trial.ledger?.lines as { name: string; datagrams: number }[];
  const line = (name: string) => lines.find((l) => l.name === name)?.datagrams;
  assert.equal(line("delivered to the output modules"), onWire);
  assert.equal(line("held at exit"), 0);
  assert.equal(line("dropped by the kernel"), 0);
  assert.equal(line("unaccounted"), 0);
  assert.equal(trial.ledger?.balanced, 1);
  assert.ok(existsSync(join(dir, "out", "logs")));
});

test("a command whose program does not exist is one line, exit 2, naming where it looked", () => {
  const dir = mkdtempSync(join(tmpdir(), "ncb-missing-"));
  const file = join(dir, "scenario.yaml");
  writeFileSync(
    file,
    `name: missing
target: { kind: command, command: "./no-such-netconsd -u {port}" }
load: { duration: 1s, rate: 1000, hosts: 4 }
`,
  );
  assert.throws(
    () => checkCommandTarget(loadScenario(file).scenario, file),
    new RegExp(
      `^UsageError: ${file}: target\\.command: cannot run "\\./no-such-netconsd": no executable file relative to ${process.cwd()} or ${dir}$`,
    ),
  );
  // next to the scenario file it is found, and the command names it by its absolute path
  const program = join(dir, "no-such-netconsd");
  writeFileSync(program, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  assert.equal(
    resolveCommand("./no-such-netconsd -u 1", { cwd: process.cwd(), scenarioDir: dir }, "x"),
    `${program} -u 1`,
  );
  // on PATH: left to the shell
  assert.equal(resolveCommand("env A=1 sh -c true", { cwd: dir }, "x"), "env A=1 sh -c true");
  assert.throws(
    () => resolveCommand("nosuch-program-h8 -x", { cwd: dir, path: "/usr/bin:/bin" }, "t.command"),
    /^UsageError: t\.command: cannot run "nosuch-program-h8": no executable file on PATH$/,
  );
});

test("the command target's delivery ledger: delivered + held at exit + kernel drops = on the wire", () => {
  // 1,000 generated, 10 lost on purpose: 990 on the wire; netconsd processed 960, the probe saw
  // 950 reach the output modules (10 held behind a hole at exit), the kernel dropped 30
  const blast = {
    datagrams: 1000,
    injected: { lost: 10, duplicated: 0, reordered: 0 },
    packets: { sent: 990, errors: 0 },
  } as unknown as BlastReport;
  const m = { socketDrops: 30 } as ExternalMeasurement;
  const probe = { delivered: { extended: 940, legacy: 10 } } as ProbeResult;
  const ledger = commandLedger(blast, m, 960, probe);
  assert.ok(ledger);
  const lines = Object.fromEntries(
    (ledger.lines as { name: string; datagrams: number }[]).map((l) => [l.name, l.datagrams]),
  );
  assert.deepEqual(
    [
      lines["sent on the wire"],
      lines["delivered to the output modules"],
      lines["held at exit"],
      lines["dropped by the kernel"],
      lines["lost on purpose (injected)"],
      lines.unaccounted,
    ],
    [990, 950, 10, 30, 10, 0],
  );
  assert.deepEqual([ledger.balanced, ledger.unexplained], [1, 0]);
  // without exit statistics nothing says what was held: the gap stays unexplained
  const killed = commandLedger(blast, m, undefined, probe);
  assert.deepEqual([killed?.balanced, killed?.unexplained], [0, 10]);
  // neither statistics nor probe: no ledger rather than a made-up one
  assert.equal(commandLedger(blast, m, undefined, null), undefined);
});

test("run with a missing command-target program: one line, exit 2, before any load or output", () => {
  const dir = mkdtempSync(join(tmpdir(), "ncb-missing-run-"));
  const file = join(dir, "scenario.yaml");
  writeFileSync(
    file,
    `name: missing
target: { kind: command, command: "./no-such-netconsd -u {port} {probe}" }
load: { duration: 1s, rate: 1000, hosts: 4 }
`,
  );
  // A file of the user's next to the scenario: the check before the run must leave it alone.
  writeFileSync(join(dir, "probe.json"), "mine\n");
  const outDir = join(dir, "out");
  const r = spawnSync(
    process.execPath,
    ["scenarios/netcons-bench.mjs", "run", file, "--out-dir", outDir],
    { encoding: "utf8", timeout: 60_000 },
  );
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /^netcons-bench: .*target\.command: cannot run "\.\/no-such-netconsd"/);
  // The out dir may exist (run checks it can create it); no trial ran and no results were written.
  assert.equal(existsSync(join(outDir, "logs")), false, "a trial was started");
  assert.equal(existsSync(join(outDir, "results.json")), false, "results were written");
  assert.equal(readFileSync(join(dir, "probe.json"), "utf8"), "mine\n");
});
