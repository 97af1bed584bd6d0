/**
 * The baseline comparison on synthetic results: regression, improvement, noise within the
 * margin, the tolerance band, smaller-is-better counts, gating by kind, missing and new figures.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Measurement } from "../scenarios/bench/format.ts";
import { compareResults, isGated, judge } from "../scenarios/bench/regression-verdict.ts";
import { resolveGate } from "../scenarios/commands/bench.ts";

function m(
  name: string,
  value: number,
  rmePercent: number,
  over: Partial<Measurement> = {},
): Measurement {
  return {
    name,
    suite: "codec",
    unit: "ops/s",
    value,
    rmePercent,
    direction: "bigger",
    kind: "absolute",
    samples: 1000,
    ...over,
  };
}

const opts = { tolerance: 0.1, gate: "absolute" as const };

describe("judge: one figure against its baseline", () => {
  it("calls a drop beyond tolerance + noise a regression", () => {
    const j = judge(m("a", 1000, 1), m("a", 800, 1), 0.1);
    assert.equal(j.verdict, "regression");
    assert.equal(j.ratio, 0.8);
    assert.ok(Math.abs(j.margin - Math.hypot(1, 1) / 100) < 1e-12);
  });

  it("still finds a very large drop in very noisy figures", () => {
    // ±60% on each side (margin 85%), but 100 times slower
    assert.equal(judge(m("a", 1000, 60), m("a", 10, 60), 0.1).verdict, "regression");
    assert.equal(judge(m("a", 10, 60), m("a", 1000, 60), 0.1).verdict, "faster");
  });

  it("calls a drop inside the noise margin the same, even when it exceeds the tolerance", () => {
    // 20% slower, but each side is only known to ±20%: the margin is 28%, so this is noise
    assert.equal(judge(m("a", 1000, 20), m("a", 800, 20), 0.1).verdict, "same");
    // 5% slower with ±5% on each side: within the 7.1% margin
    assert.equal(judge(m("a", 1000, 5), m("a", 950, 5), 0.1).verdict, "same");
  });

  it("calls a drop beyond the noise but within the tolerance slower, not a regression", () => {
    assert.equal(judge(m("a", 1000, 1), m("a", 950, 1), 0.1).verdict, "slower");
    // the optimistic end of the noise: 0.89 * 1.01414 = 0.9026 is within the 10% tolerance,
    // 0.88 * 1.01414 = 0.8924 is not
    assert.equal(judge(m("a", 1000, 1), m("a", 890, 1), 0.1).verdict, "slower");
    assert.equal(judge(m("a", 1000, 1), m("a", 880, 1), 0.1).verdict, "regression");
  });

  it("calls a gain beyond the noise faster", () => {
    const j = judge(m("a", 1000, 2), m("a", 1300, 2), 0.1);
    assert.equal(j.verdict, "faster");
    assert.equal(j.ratio, 1.3);
    assert.equal(judge(m("a", 1000, 20), m("a", 1200, 20), 0.1).verdict, "same");
  });

  it("reverses the direction for smaller-is-better figures", () => {
    const small = { direction: "smaller" as const, unit: "µs" };
    // latency 100 -> 150 µs: 1.5 times worse
    assert.equal(judge(m("l", 100, 1, small), m("l", 150, 1, small), 0.1).verdict, "regression");
    assert.equal(judge(m("l", 100, 1, small), m("l", 70, 1, small), 0.1).verdict, "faster");
  });

  it("treats any loss where the baseline had none as a regression", () => {
    const lost = { direction: "smaller" as const, unit: "messages", rmePercent: 0 };
    assert.equal(judge(m("lost", 0, 0, lost), m("lost", 3, 0, lost), 0.1).verdict, "regression");
    assert.equal(judge(m("lost", 0, 0, lost), m("lost", 0, 0, lost), 0.1).verdict, "same");
    assert.equal(judge(m("lost", 12, 0, lost), m("lost", 0, 0, lost), 0.1).verdict, "faster");
  });

  it("does not divide by a zero bigger-is-better baseline", () => {
    const j = judge(m("a", 0, 0), m("a", 5, 1), 0.1);
    assert.equal(j.ratio, undefined);
    assert.equal(j.verdict, "faster");
  });
});

describe("compareResults: a whole run", () => {
  const baseline = [
    m("codec/reference", 700_000, 1, { kind: "reference" }),
    m("codec/encode", 3_000_000, 2),
    m("codec/encode vs reference", 4.3, 2.2, {
      kind: "ratio",
      unit: "x reference",
      of: "codec/encode",
    }),
    m("codec/decode", 2_000_000, 2),
    m("codec/decode vs reference", 2.9, 2.2, { kind: "ratio", unit: "x reference" }),
    m("codec/gone", 1_000, 1),
  ];

  it("passes a run equal to its baseline", () => {
    const result = compareResults(baseline, baseline.slice(0, 5), opts);
    assert.equal(result.pass, true);
    assert.equal(result.regressions, 0);
    for (const c of result.comparisons.slice(0, 5)) assert.equal(c.verdict, "same", c.name);
  });

  it("fails on a gated regression and counts only gated ones", () => {
    const current = [
      m("codec/reference", 700_000, 1, { kind: "reference" }),
      m("codec/encode", 1_500_000, 2), // half as fast
      m("codec/encode vs reference", 2.15, 2.2, {
        kind: "ratio",
        unit: "x reference",
        of: "codec/encode",
      }),
      m("codec/decode", 2_010_000, 2),
      m("codec/decode vs reference", 2.9, 2.2, { kind: "ratio", unit: "x reference" }),
    ];
    const absolute = compareResults(baseline, current, { tolerance: 0.1, gate: "absolute" });
    assert.equal(absolute.pass, false);
    assert.equal(absolute.regressions, 1);
    const enc = absolute.comparisons.find((c) => c.name === "codec/encode")!;
    assert.deepEqual(
      [enc.verdict, enc.gated, enc.old, enc.new, enc.ratio],
      ["regression", true, 3_000_000, 1_500_000, 0.5],
    );
    // the ratio regressed too, but is shown, not gated, under the absolute gate
    const ratio = absolute.comparisons.find((c) => c.name === "codec/encode vs reference")!;
    assert.deepEqual([ratio.verdict, ratio.gated], ["regression", false]);
    // under the both gate the figure and its ratio fail together, counted once
    assert.equal(
      compareResults(baseline, current, { tolerance: 0.1, gate: "both" }).regressions,
      1,
    );
    assert.equal(
      compareResults(baseline, current, { tolerance: 0.1, gate: "ratio" }).regressions,
      1,
    );
    // a huge tolerance lets it pass
    assert.equal(compareResults(baseline, current, { tolerance: 0.6, gate: "both" }).pass, true);
  });

  it("gates ratios only under the ratio gate: a slower machine is not a regression", () => {
    // everything, the reference included, 40% slower: a slower machine, same code
    const slowerMachine = baseline
      .slice(0, 5)
      .map((x) => (x.kind === "ratio" ? x : { ...x, value: x.value * 0.6 }));
    assert.equal(
      compareResults(baseline, slowerMachine, { tolerance: 0.1, gate: "ratio" }).pass,
      true,
    );
    assert.equal(
      compareResults(baseline, slowerMachine, { tolerance: 0.1, gate: "absolute" }).pass,
      false,
    );
  });

  it("never gates the reference workload", () => {
    assert.equal(isGated({ kind: "reference" }, "both"), false);
    const current = baseline.map((x) => (x.kind === "reference" ? { ...x, value: 100 } : x));
    const result = compareResults(baseline, current, { tolerance: 0.1, gate: "both" });
    assert.equal(result.pass, true);
    assert.equal(result.comparisons.find((c) => c.kind === "reference")!.verdict, "regression");
  });

  it("gates a correctness figure (lost messages) under every gate", () => {
    const lost = (value: number) =>
      m("e2e/lost messages", value, 0, { direction: "smaller", unit: "messages", always: true });
    for (const gate of ["absolute", "ratio", "both"] as const) {
      const result = compareResults([lost(0)], [lost(7)], { tolerance: 0.1, gate });
      assert.deepEqual([result.pass, result.regressions], [false, 1], gate);
    }
    assert.equal(isGated({ kind: "absolute", always: true }, "ratio"), true);
    assert.equal(isGated({ kind: "absolute" }, "ratio"), false);
  });

  it("reports new and missing figures without failing", () => {
    const current = [...baseline.slice(0, 5), m("codec/brand new", 10, 1)];
    const result = compareResults(baseline, current, opts);
    assert.equal(result.pass, true);
    assert.equal(result.comparisons.find((c) => c.name === "codec/brand new")!.verdict, "new");
    const gone = result.comparisons.find((c) => c.name === "codec/gone")!;
    assert.deepEqual(
      [gone.verdict, gone.gated, gone.old, gone.new],
      ["missing", false, 1000, undefined],
    );
  });
});

describe("the both gate and the auto gate", () => {
  const ref = (value: number) => m("codec/reference", value, 1, { kind: "reference" });
  const enc = (value: number) => m("codec/encode", value, 1);
  const encRatio = (value: number) =>
    m("codec/encode vs reference", value, 1, {
      kind: "ratio",
      unit: "x reference",
      of: "codec/encode",
    });
  const baseline = [ref(700_000), enc(3_000_000), encRatio(4.3)];

  it("does not fail a busier machine: absolute down, ratio held", () => {
    const busy = [ref(350_000), enc(1_500_000), encRatio(4.3)];
    const result = compareResults(baseline, busy, { tolerance: 0.1, gate: "both" });
    assert.equal(result.pass, true);
    const row = result.comparisons.find((c) => c.name === "codec/encode")!;
    assert.deepEqual([row.verdict, row.gated, row.failed], ["regression", true, false]);
    // the absolute gate alone would have failed it
    assert.equal(compareResults(baseline, busy, { tolerance: 0.1, gate: "absolute" }).pass, false);
  });

  it("fails a slower build once: absolute and ratio both down", () => {
    const slower = [ref(700_000), enc(1_500_000), encRatio(2.15)];
    const result = compareResults(baseline, slower, { tolerance: 0.1, gate: "both" });
    assert.deepEqual([result.pass, result.regressions], [false, 1]);
    assert.deepEqual(
      result.comparisons.filter((c) => c.failed).map((c) => c.name),
      ["codec/encode"],
    );
  });

  it("does not fail on a ratio that moved alone (the reference's noise)", () => {
    const noisyRef = [ref(1_400_000), enc(3_000_000), encRatio(2.15)];
    assert.equal(compareResults(baseline, noisyRef, { tolerance: 0.1, gate: "both" }).pass, true);
    assert.equal(compareResults(baseline, noisyRef, { tolerance: 0.1, gate: "ratio" }).pass, false);
  });

  it("judges a figure without a ratio on its own", () => {
    const rate = (v: number) => m("e2e/delivered messages/s", v, 1, { unit: "msgs/s" });
    assert.equal(
      compareResults([rate(20_000)], [rate(10_000)], { tolerance: 0.1, gate: "both" }).pass,
      false,
    );
  });

  it("auto: both on the same machine, ratio on another", () => {
    const env = { node: "v24.0.0", platform: "linux", arch: "x64", cpuModel: "CPU", cpus: 2 };
    assert.equal(resolveGate("auto", env, { ...env }).gate, "both");
    const other = resolveGate("auto", env, { ...env, cpus: 8 });
    assert.equal(other.gate, "ratio");
    assert.match(other.why, /another machine/);
    assert.deepEqual(resolveGate("absolute", env, { ...env, cpus: 8 }), {
      gate: "absolute",
      why: "--gate",
    });
  });
});
