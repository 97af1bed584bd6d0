/**
 * The blaster's benchmarks run end to end with tiny parameters through their npm scripts' entry
 * files (real sockets on loopback, real worker threads), and print the figures they promise in
 * their JSON: the side-by-side run against netconsblaster (ours only here unless NETCONSBLASTER is
 * set and we are root), the engine against a bare loop, and the transport layer alone.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { promisify } from "node:util";
import { skipUnless } from "./capabilities.ts";
import { addonSkipReason } from "./raw-support.ts";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "ncb-blaster-bench-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function bench(file: string, args: string[]) {
  return run(process.execPath, [`scenarios/bench/${file}`, ...args], {
    timeout: 120_000,
    env: { ...process.env, NETCONSBLASTER: "" },
  });
}

describe("blaster benchmarks (tiny parameters)", {
  skip: skipUnless("addon", addonSkipReason()),
}, () => {
  test("bench:blaster: one thread per sender, paced and 2-worker figures in its JSON", async () => {
    const { stderr } = await bench("blaster-vs-netconsblaster.ts", [
      "--seconds",
      "0.3",
      "--hosts",
      "64",
      "--rates",
      "2000",
      "--transports",
      "udp-batch,udp-batch-gso",
      "--json",
      "-",
    ]).then((r) => {
      const report = JSON.parse(r.stdout);
      assert.match(report.netconsblaster, /not given/);
      assert.deepEqual(
        report.oneThread.map((row: { sender: string }) => row.sender),
        ["udp-batch", "udp-batch-gso"],
      );
      for (const row of report.oneThread) {
        assert.ok(row.pps > 0 && row.cpuUsPerPacket > 0, JSON.stringify(row));
        assert.equal(row.perCoreVsNetconsblaster, null);
      }
      const paced = report.paced.rates[0];
      assert.equal(paced.ratePps, 2000);
      assert.ok(paced.achievedPps > 0 && paced.cpuUsPerPacket > 0 && paced.latenessP99Us >= 0);
      assert.ok(report.workers.oneWorkerPps > 0 && report.workers.twoWorkersPps > 0);
      return r;
    });
    // Human output goes to stderr when the JSON goes to stdout.
    assert.match(stderr, /per-core vs netconsblaster/);
  });

  test("bench:blaster-engine: engine vs bare loop, workers and pacing", async () => {
    const file = join(dir, "engine.json");
    await bench("blaster-engine.ts", [
      "--seconds",
      "0.3",
      "--rounds",
      "1",
      "--hosts",
      "20",
      "--pacing-seconds",
      "0.5",
      "--pacing-rate",
      "2000",
      "--json",
      file,
    ]);
    const report = JSON.parse(readFileSync(file, "utf8"));
    assert.ok(report.throughput.blastOneWorkerPps > 0 && report.throughput.bareDgramPps > 0);
    assert.ok(report.workers.twoWorkersPps > 0);
    assert.ok(report.pacing.achievedPps > 0 && report.pacing.latenessUs.p99 >= 0);
  });

  test("bench:blaster-transports: the transport layer alone", async () => {
    const { stdout } = await bench("blaster-transports.ts", [
      "--duration",
      "0.2",
      "--rounds",
      "1",
      "--hosts",
      "50",
      "--workers",
      "1",
      "--transports",
      "socket,udp-batch",
      "--memory-hosts",
      "0",
      "--json",
      "-",
    ]);
    const report = JSON.parse(stdout);
    const rows = report.rows ?? report;
    assert.ok(JSON.stringify(rows).includes("udp-batch"), stdout);
  });
});
