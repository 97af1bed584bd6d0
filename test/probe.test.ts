/**
 * The netconsd probe module (receiver/probe/), loaded and driven by its host program exactly as
 * netconsd would (several worker threads, both message forms at netconsd's byte offsets), in
 * real processes: the figures file it writes is read back through scenarios/probe.ts.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { JsHistogram } from "hdr-histogram-js";
import { mergeEncoded, newHistogram } from "../blaster/latency.ts";
import { bucketHighest } from "../receiver/probe/probe-file.ts";
import {
  expandProbe,
  type ProbeResult,
  probeBuildError,
  probeHostPath,
  probeModulePath,
  readProbeFile,
} from "../scenarios/probe.ts";
import { missing, needs } from "./capabilities.ts";

const probeSourceDir = new URL("../receiver/probe/", import.meta.url).pathname;
const install = join(probeSourceDir, "install.mjs");
const dir = mkdtempSync(join(tmpdir(), "ncb-probe-"));

/** The module and host program, built by the install script when a compiler is there. */
function built(t: TestContext): { module: string; host: string } | null {
  if (!needs(t, "cc", missing("cc"))) return null;
  const module = probeModulePath();
  const host = probeHostPath();
  assert.ok(module && host, `the install script did not build the probe: ${probeBuildError()}`);
  return { module, host };
}

interface Plan {
  workers: number;
  extended: number;
  legacy: number;
  hosts: number;
  oos?: number;
  unstamped?: number;
  near_us?: number;
  far_us?: number;
  queue_ms?: number;
  pause_ms?: number;
}

function planArgs(plan: Plan): string[] {
  return Object.entries(plan).map(([k, v]) => `${k}=${v}`);
}

function runHost(
  paths: { module: string; host: string },
  plan: Plan,
  env: Record<string, string | undefined>,
) {
  return spawnSync(paths.host, [paths.module, ...planArgs(plan)], {
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
}

function figures(file: string): ProbeResult {
  const result = readProbeFile(file);
  if ("error" in result) assert.fail(result.error);
  return result;
}

describe("netconsd probe module", () => {
  before(() => {
    // Builds (or rebuilds) the module the way `npm ci` does; it never fails, whatever happens.
    const run = spawnSync(process.execPath, [install], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
  });

  it("counts every message of several worker threads and both forms, with latency from the stamps", (t) => {
    const paths = built(t);
    if (!paths) return;
    const out = join(dir, "counts.json");
    const plan = {
      workers: 3,
      extended: 2000,
      legacy: 400,
      hosts: 9,
      oos: 25,
      unstamped: 100,
      near_us: 2000,
      far_us: 300_000,
      queue_ms: 40,
    };
    const run = runHost(paths, plan, { NETCONS_PROBE_OUT: out });
    assert.equal(run.status, 0, run.stderr);
    const r = figures(out);
    assert.equal(r.final, true);
    assert.deepEqual(r.delivered, {
      extended: 3 * 2000,
      legacy: 3 * 400,
      oos: 3 * 25,
      seqReset: 3 * 9, // the first message from each host
      hosts: 3 * 9,
    });
    assert.equal(r.hostsExact, true);
    assert.deepEqual(
      r.perWorker,
      [0, 1, 2].map((index) => ({ index, delivered: 2400, hosts: 9 })),
    );
    // Every legacy line is stamped (half of them after a `[ secs.usecs] ` prefix).
    const stamped = 3 * (2000 - 100 + 400);
    assert.equal(r.stamped, stamped);
    const e2e = r.latencyUs.endToEnd;
    assert.equal(e2e.count, stamped);
    // 9 stamped messages in 10 were sent "2 ms ago", every 10th "300 ms ago": p50 is the near
    // delay and p99 the far one, each plus the moments between stamping and the handler.
    assert.ok(e2e.p50 >= 2000 && e2e.p50 < 2000 + 50_000, `p50 ${e2e.p50}`);
    assert.ok(e2e.p99 >= 300_000 && e2e.p99 < 300_000 + 100_000, `p99 ${e2e.p99}`);
    // The queue delay is measured for the legacy (buf) form only: 40 ms before, in whole ms.
    const queue = r.latencyUs.queue;
    assert.equal(queue.count, 3 * 400);
    assert.ok(queue.p50 >= 40_000 && queue.p50 < 41_000 + 50_000, `queue p50 ${queue.p50}`);
    assert.deepEqual(r.clockAnomalies, { endToEndNegative: 0, queueNegative: 0, clamped: 0 });
    assert.equal(r.handlerNsPerMessage, null); // not self-timed
    assert.equal(r.handlerNs, null);
    assert.equal(r.handlerNsSteadyMean, null);
    // The histograms are encoded HDR, mergeable with the receiver's.
    const merged = mergeEncoded([r.histograms.endToEnd, r.histograms.endToEnd]);
    assert.equal(merged.totalCount, 2 * stamped);
    merged.destroy();
  });

  it("writes interval snapshots while running, then the exact figures at exit (self-timed)", async (t) => {
    const paths = built(t);
    if (!paths) return;
    const out = join(dir, "interval.json");
    const plan = { workers: 2, extended: 500, legacy: 50, hosts: 3, pause_ms: 2500 };
    const child = spawn(paths.host, [paths.module, ...planArgs(plan)], {
      env: {
        ...process.env,
        NETCONS_PROBE_OUT: out,
        NETCONS_PROBE_INTERVAL_MS: "50",
        NETCONS_PROBE_SELF_TIME: "1",
      },
      stdio: "ignore",
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    let snapshot: ProbeResult | null = null;
    for (let i = 0; i < 250 && child.exitCode === null; i++) {
      await sleep(20);
      const r = existsSync(out) ? readProbeFile(out) : null;
      if (r && !("error" in r) && !r.final && r.delivered.extended === 1000) snapshot = r;
      if (snapshot) break;
    }
    assert.equal(await exited, 0);
    assert.ok(snapshot, "no complete interval snapshot was seen while the host paused");
    assert.equal(snapshot.delivered.legacy, 100);
    const final = figures(out);
    assert.equal(final.final, true);
    assert.equal(final.delivered.extended, 1000);
    // Self-timed: the handler's own time, at least the clock read it includes.
    assert.ok(final.handlerNsPerMessage !== null && final.handlerNsPerMessage > 0);
    assert.equal(final.handlerNs?.count, 1100);
    assert.ok(final.handlerNsSteadyMean !== null && final.handlerNsSteadyMean > 0);
  });

  it("falls back to its host-count estimate when the exact set is full", (t) => {
    const paths = built(t);
    if (!paths) return;
    const out = join(dir, "hosts.json");
    const plan = { workers: 2, extended: 6000, legacy: 0, hosts: 3000 };
    const run = runHost(paths, plan, { NETCONS_PROBE_OUT: out, NETCONS_PROBE_MAX_HOSTS: "64" });
    assert.equal(run.status, 0, run.stderr);
    const r = figures(out);
    assert.equal(r.hostsExact, false);
    // HyperLogLog with 4096 registers: about 1.6% standard error; 5% is three of them.
    assert.ok(Math.abs(r.delivered.hosts - 6000) < 300, `hosts ${r.delivered.hosts}`);
    assert.equal(r.delivered.extended, 12_000);
  });

  it("says once on stderr that it cannot write its file, and the host runs to the end", (t) => {
    const paths = built(t);
    if (!paths) return;
    const out = join(dir, "no-such-dir", "probe.json");
    const plan = { workers: 2, extended: 200, legacy: 20, hosts: 2, pause_ms: 300 };
    const run = runHost(paths, plan, { NETCONS_PROBE_OUT: out, NETCONS_PROBE_INTERVAL_MS: "20" });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr.match(/cannot write/g)?.length, 1, run.stderr);
    assert.match(run.stderr, /ENOENT|No such file/);
    assert.equal(existsSync(out), false);

    const unset = runHost(paths, plan, { NETCONS_PROBE_OUT: undefined });
    assert.equal(unset.status, 0, unset.stderr);
    assert.match(unset.stderr, /NETCONS_PROBE_OUT is not set/);
  });
});

describe("probe under the sanitizers", () => {
  // The module and host rebuilt with ThreadSanitizer, then AddressSanitizer + UBSan: no data race
  // between the workers and the interval writer (writing every 5 ms), no memory error, while the
  // host sets fill and hand over to their sketches and the handler is self-timed.
  for (const sanitizer of ["thread", "address,undefined"]) {
    it(`runs clean under -fsanitize=${sanitizer}`, (t) => {
      if (!needs(t, "cc", missing("cc"))) return;
      const tag = sanitizer.replace(",", "-");
      const module = join(dir, `probe-${tag}.so`);
      const host = join(dir, `host-${tag}`);
      const flags = ["-O1", "-g", `-fsanitize=${sanitizer}`];
      for (const args of [
        [
          "-shared",
          "-fPIC",
          ...flags,
          "-o",
          module,
          "probe.c",
          "probe-hosts.c",
          "-lpthread",
          "-lm",
        ],
        [...flags, "-o", host, "probe-host.c", "-ldl", "-lpthread"],
      ]) {
        const cc = spawnSync("cc", args, { cwd: probeSourceDir, encoding: "utf8" });
        assert.equal(cc.status, 0, cc.stderr);
      }
      const out = join(dir, `${tag}.json`);
      const plan = { workers: 4, extended: 5000, legacy: 500, hosts: 300, oos: 10, pause_ms: 50 };
      const run = runHost({ module, host }, plan, {
        NETCONS_PROBE_OUT: out,
        NETCONS_PROBE_INTERVAL_MS: "5",
        NETCONS_PROBE_SELF_TIME: "1",
        NETCONS_PROBE_MAX_HOSTS: "64",
      });
      assert.equal(run.status, 0, run.stderr);
      assert.doesNotMatch(run.stderr, /Sanitizer|runtime error/, run.stderr);
      assert.equal(figures(out).delivered.extended, 4 * 5000);
    });
  }
});

describe("probe install script", () => {
  it("never fails: without a compiler it says so, keeps the reason and leaves no stale build", (t) => {
    // A copy of the sources, so the project's own build is left alone.
    const copy = mkdtempSync(join(dir, "install-"));
    cpSync(probeSourceDir, copy, { recursive: true, filter: (f) => !f.includes("/build") });
    if (needs(t, "cc", missing("cc"))) {
      const built = spawnSync(process.execPath, [join(copy, "install.mjs")], { encoding: "utf8" });
      assert.equal(built.status, 0, built.stderr);
      assert.match(built.stderr, /netconsd probe built/);
      assert.ok(existsSync(join(copy, "build", "netcons-probe.so")));
      assert.ok(existsSync(join(copy, "build", "probe-host")));
    }
    const env = { ...process.env, PATH: "/nonexistent", CC: "" };
    const run = spawnSync(process.execPath, [join(copy, "install.mjs")], { encoding: "utf8", env });
    assert.equal(run.status, 0);
    assert.match(run.stderr, /netconsd probe not built: no C compiler .*The install goes on/);
    assert.match(readFileSync(join(copy, "build", "build-error.txt"), "utf8"), /no C compiler/);
    assert.equal(existsSync(join(copy, "build", "netcons-probe.so")), false);
  });
});

describe("probe placeholder and file", () => {
  it("expands {probe} to the module and names the trial's file, touching no file (pure)", (t) => {
    if (!built(t)) return;
    const trialDir = mkdtempSync(join(dir, "trial-"));
    writeFileSync(join(trialDir, "probe.json"), "left over");
    const x = expandProbe("netconsd -w {workers} -u {port} {probe}", trialDir);
    assert.equal(x.command, `netconsd -w {workers} -u {port} ${probeModulePath()}`);
    assert.equal(x.outFile, join(trialDir, "probe.json"));
    assert.deepEqual(x.env, { NETCONS_PROBE_OUT: x.outFile });
    // Removing an earlier trial's file is the command target's job when it starts the trial (a
    // check before the run expands the template too, and must not delete anything).
    assert.equal(readFileSync(x.outFile, "utf8"), "left over");
    assert.deepEqual(expandProbe("netconsd -u {port}", trialDir), {
      command: "netconsd -u {port}",
      env: {},
      outFile: null,
    });
  });

  it("reads no figures from a missing, garbled or foreign file", () => {
    assert.match(
      (readProbeFile(join(dir, "absent.json")) as { error: string }).error,
      /no probe file/,
    );
    const garbled = join(dir, "garbled.json");
    writeFileSync(garbled, "{not json");
    assert.match((readProbeFile(garbled) as { error: string }).error, /not JSON/);
    writeFileSync(garbled, JSON.stringify({ format: "netcons-probe/1", final: true }));
    assert.match((readProbeFile(garbled) as { error: string }).error, /not a netcons-probe\/1/);
  });

  it("buckets values exactly as HdrHistogram does (the C index and the reader's inverse)", (t) => {
    if (!needs(t, "cc", missing("cc"))) return;
    // The module's own bucket function, compiled into a small program that prints indices.
    const source = join(dir, "index.c");
    writeFileSync(
      source,
      `#include "probe-histogram.h"
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) printf("%u\\n", probe_hist_index(strtoull(argv[i], 0, 10)));
  return 0;
}
`,
    );
    const program = join(dir, "index");
    const cc = spawnSync("cc", ["-O2", "-I", probeSourceDir, "-o", program, source], {
      encoding: "utf8",
    });
    assert.equal(cc.status, 0, cc.stderr);
    const values = [0, 1, 1023, 1024, 2047, 2048, 2049, 2050, 4095, 4096, 4099, 4100, 123_456];
    for (let v = 5000; v < 2 ** 36; v = Math.floor(v * 1.37) + 1) values.push(v);
    values.push(2 ** 36 - 1);
    const indices = spawnSync(program, values.map(String), { encoding: "utf8" })
      .stdout.trim()
      .split("\n")
      .map(Number);
    const hdr = newHistogram() as unknown as JsHistogram;
    values.forEach((v, i) => {
      assert.equal(indices[i], hdr.countsArrayIndex(v), `index of ${v}`);
      assert.equal(bucketHighest(indices[i]), hdr.highestEquivalentValue(v), `bucket of ${v}`);
    });
    hdr.destroy();
  });
});
