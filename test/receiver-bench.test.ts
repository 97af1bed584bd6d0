/**
 * The receiver's benchmarks, each run once through its npm script with the smallest settings:
 * they start, measure something real and print their figures (the figures themselves are not
 * checked: speed is for the benchmarks to report, not for tests to time).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";

function npmRun(
  script: string,
  args: string[],
): { status: number | null; out: string; stdout: string } {
  const r = spawnSync("npm", ["run", "-s", script, "--", ...args], {
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, NETCONSD: "" },
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

describe("receiver benchmarks (smoke)", () => {
  it("bench:receiver measures our receiver alone without netconsd, and says so", () => {
    const r = npmRun("bench:receiver", [
      ...["--seconds", "0.5", "--rates", "2000", "--configs", "1x1"],
      ...["--skip", "cpu", "--latency-rates", "1000", "--json", "-"],
    ]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /measuring our receiver only/);
    // With --json - stdout holds only the JSON (the table goes to stderr).
    const json = JSON.parse(r.stdout);
    assert.equal(json.points.length, 2);
    assert.ok(json.points.every((p: { sent: number }) => p.sent > 0));
  });

  it("bench:receiver-cpu prints CPU per datagram", () => {
    const r = npmRun("bench:receiver-cpu", [
      "--count",
      "2000",
      "--rate",
      "4000",
      "--configs",
      "1x1",
    ]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /receive -l1 -w1 .* us\/datagram/);
  });

  it("bench:receiver-memory prints bytes per host", () => {
    const r = npmRun("bench:receiver-memory", ["--hosts", "2000", "--messages", "2"]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /200\d hosts tracked.*\n.*= \d+ B\/host/);
  });

  it("bench:receiver-zero-loss runs one trial and reports its rate", () => {
    const r = npmRun("bench:receiver-zero-loss", [
      ...["--configs", "1x1", "--seconds", "0.5", "--trials", "1", "--start", "2000"],
    ]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /zero-loss throughput \d+ msg\/s/);
  });
});
