/**
 * `netcons-bench probe` through the real CLI: the module's path (plain and --json), and --read on
 * a file the probe wrote when loaded by its host program.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { probeBuildError, probeHostPath, probeModulePath } from "../scenarios/probe.ts";
import { missing, needs } from "./capabilities.ts";

const launcher = new URL("../scenarios/netcons-bench.mjs", import.meta.url).pathname;
const install = new URL("../receiver/probe/install.mjs", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "ncb-probe-cli-"));

function cli(args: string[]) {
  return spawnSync(process.execPath, [launcher, "probe", ...args], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });
}

describe("probe command", () => {
  before(() => {
    assert.equal(spawnSync(process.execPath, [install]).status, 0);
  });

  it("prints the module's path, or its JSON with --json -", (t) => {
    if (!needs(t, "cc", missing("cc"))) return;
    const module = probeModulePath();
    assert.ok(module, `${probeBuildError()}`);
    const plain = cli([]);
    assert.equal(plain.status, 0, plain.stderr);
    assert.equal(plain.stdout, `${module}\n`);
    const json = cli(["--json", "-"]);
    assert.equal(json.status, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), {
      modulePath: module,
      error: null,
      variables: { outputFile: "NETCONS_PROBE_OUT", intervalMs: "NETCONS_PROBE_INTERVAL_MS" },
    });
  });

  it("summarises a file the probe wrote, with the same figures as JSON", (t) => {
    if (!needs(t, "cc", missing("cc"))) return;
    const module = probeModulePath();
    const host = probeHostPath();
    assert.ok(module && host, `${probeBuildError()}`);
    const out = join(dir, "probe.json");
    const run = spawnSync(
      host,
      [module, "workers=2", "extended=300", "legacy=30", "hosts=5", "oos=2"],
      { env: { ...process.env, NETCONS_PROBE_OUT: out }, encoding: "utf8" },
    );
    assert.equal(run.status, 0, run.stderr);
    const human = cli(["--read", out]);
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, /final \(written at netconsd's exit\)/);
    assert.match(
      human.stdout,
      /600 extended, 60 legacy\/unparsed; flags 4 oos, 10 seq_reset; 10 hosts/,
    );
    assert.match(human.stdout, /end-to-end +p50 [\d.]+ ms/);
    assert.match(human.stdout, /#0 330 \(5 hosts\), #1 330 \(5 hosts\)/);
    const json = cli(["--read", out, "--json", "-"]);
    assert.equal(json.status, 0, json.stderr);
    const figures = JSON.parse(json.stdout);
    assert.equal(figures.file, out);
    assert.deepEqual(figures.delivered, {
      extended: 600,
      legacy: 60,
      oos: 4,
      seqReset: 10,
      hosts: 10,
    });
    assert.equal(figures.latencyUs.endToEnd.count, 660);
    assert.equal(figures.latencyUs.queue.count, 60);
    assert.equal(typeof figures.histograms.endToEnd, "string");
  });

  it("refuses a missing or foreign file in one line (exit 2)", () => {
    const absent = cli(["--read", join(dir, "absent.json")]);
    assert.equal(absent.status, 2);
    assert.match(absent.stderr, /^netcons-bench: no probe file .*absent\.json/);
    assert.equal(absent.stderr.trim().split("\n").length, 1);
    const foreign = join(dir, "foreign.json");
    writeFileSync(foreign, "[]");
    const bad = cli(["--read", foreign]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /not a netcons-probe\/1 file/);
  });
});
