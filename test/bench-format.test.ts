/**
 * The JSON shapes: github-action-benchmark's custom formats, the baseline file, the reference
 * workload's fixed result, and the tables.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  deliveredRate,
  type EndToEndResult,
  type EndToEndRun,
  endToEndMeasurements,
} from "../scenarios/bench/e2e.ts";
import {
  BASELINE_FORMAT,
  type Baseline,
  type Measurement,
  parseBaseline,
  sameMachine,
  toActionFormat,
} from "../scenarios/bench/format.ts";
import { REFERENCE_CHECKSUM, referenceOp, referenceState } from "../scenarios/bench/reference.ts";
import { compareResults } from "../scenarios/bench/regression-verdict.ts";
import {
  machineBusy,
  meanWithMargin,
  median,
  medianBy,
  medianWithMargin,
  parseCpuTicks,
  relativeSpread,
} from "../scenarios/bench/stats.ts";
import { toMeasurements } from "../scenarios/bench/suite.ts";
import { comparisonTable, e2eSummary, resultsTable } from "../scenarios/bench/table.ts";
import { figure } from "../scenarios/format.ts";

const env = { node: "v24.0.0", platform: "linux", arch: "x64", cpuModel: "Some CPU", cpus: 2 };

const encode: Measurement = {
  name: "codec/encode extended 64 B",
  suite: "codec",
  unit: "ops/s",
  value: 2_500_000,
  rmePercent: 1.5,
  direction: "bigger",
  kind: "absolute",
  samples: 5000,
  extra: "encodeExtended",
};
const reference: Measurement = {
  ...encode,
  name: "codec/reference",
  value: 700_000,
  rmePercent: 0.5,
  kind: "reference",
};
/** encode as a ratio to the reference, the way the suite runner reports it. */
const encodeRatio: Measurement = {
  name: "codec/encode extended 64 B vs reference",
  suite: "codec",
  unit: "x reference",
  value: 2_500_000 / 700_000,
  rmePercent: Math.hypot(1.5, 0.5),
  direction: "bigger",
  kind: "ratio",
  of: encode.name,
  samples: 5000,
  extra: "ops/s / reference ops/s, round by round",
};
const lost: Measurement = {
  name: "e2e/lost messages",
  suite: "e2e",
  unit: "messages",
  value: 0,
  rmePercent: 0,
  direction: "smaller",
  kind: "absolute",
  samples: 3,
};

describe("github-action-benchmark custom formats", () => {
  it("writes exactly {name, unit, value, range, extra} per figure, split by direction", () => {
    const all = [reference, encode, encodeRatio, lost];
    const bigger = toActionFormat(all, "bigger");
    const smaller = toActionFormat(all, "smaller");
    assert.deepEqual(
      bigger.map((e) => e.name),
      ["codec/reference", "codec/encode extended 64 B", "codec/encode extended 64 B vs reference"],
    );
    assert.deepEqual(
      smaller.map((e) => e.name),
      ["e2e/lost messages"],
    );
    for (const entry of [...bigger, ...smaller]) {
      assert.deepEqual(Object.keys(entry).sort(), ["extra", "name", "range", "unit", "value"]);
      assert.equal(typeof entry.value, "number");
      assert.match(entry.range, /^±\d+\.\d\d%$/);
      assert.equal(typeof entry.extra, "string");
    }
    assert.deepEqual(bigger[1], {
      name: "codec/encode extended 64 B",
      unit: "ops/s",
      value: 2_500_000,
      range: "±1.50%",
      extra: "encodeExtended; 5000 samples; kind absolute",
    });
    // JSON round trip keeps it intact (what the CI integration reads)
    assert.deepEqual(JSON.parse(JSON.stringify(bigger)), bigger);
  });
});

describe("suite measurements", () => {
  it("gives each task's figure and, next to it, its ratio to the reference from the rounds", () => {
    const figure = (name: string, opsPerSecond: number, rmePercent: number) => ({
      name,
      opsPerSecond,
      rmePercent,
      samples: 100,
      batch: 8,
      note: "what one op is",
    });
    const out = toMeasurements(
      "codec",
      [
        {
          task: figure("encode", 2_000_000, 1),
          reference: figure("reference", 800_000, 2),
          ratio: { mean: 2.4, rmePercent: 3 },
        },
      ],
      5,
    );
    assert.deepEqual(
      out.map((m) => [m.name, m.kind, m.unit, m.value]),
      [
        ["codec/reference", "reference", "ops/s", 800_000],
        ["codec/encode", "absolute", "ops/s", 2_000_000],
        ["codec/encode vs reference", "ratio", "x reference", 2.4],
      ],
    );
    assert.equal(out[2].of, "codec/encode");
    assert.equal(out[2].rmePercent, 3);
  });
});

describe("baseline file", () => {
  const doc: Baseline = {
    format: BASELINE_FORMAT,
    savedAt: "2026-11-21T12:00:00.000Z",
    environment: env,
    settings: { quick: true },
    measurements: [reference, encode, lost],
  };

  it("round-trips through JSON", () => {
    assert.deepEqual(parseBaseline(JSON.stringify(doc)), doc);
  });

  it("refuses what is not a baseline, saying why", () => {
    assert.throws(() => parseBaseline("{"), /not JSON/);
    assert.throws(
      () => parseBaseline(JSON.stringify(toActionFormat([encode], "bigger"))),
      /not a netcons-bench baseline/,
    );
    const bad = { ...doc, measurements: [{ ...encode, value: "fast" }] };
    assert.throws(() => parseBaseline(JSON.stringify(bad)), /measurements\.0\.value/);
  });

  it("tells the same machine from another one", () => {
    assert.equal(sameMachine(env, { ...env }), true);
    assert.equal(sameMachine(env, { ...env, cpus: 4 }), false);
    assert.equal(sameMachine(env, { ...env, node: "v24.1.0" }), false);
  });
});

describe("reference workload", () => {
  it("is unchanged (every saved ratio depends on it)", () => {
    const state = referenceState();
    assert.equal(referenceOp(state), REFERENCE_CHECKSUM);
    assert.equal(referenceOp(state), REFERENCE_CHECKSUM);
  });
});

describe("tables", () => {
  it("shows each figure with its ratio to the reference on one row", () => {
    const text = resultsTable([reference, encode, encodeRatio]);
    const lines = text.split("\n");
    assert.equal(lines.length, 4); // header, rule, reference, encode
    assert.match(
      lines[2],
      /^codec\/reference \(reference workload\)\s+700,000\s+ops\/s\s+±0\.5%\s+-$/,
    );
    assert.match(lines[3], /^codec\/encode extended 64 B\s+2,500,000\s+ops\/s\s+±1\.5%\s+3\.571$/);
  });

  it("shows old, new, ratio and verdict, marking the figure that fails", () => {
    const slower = { ...encode, value: 1_250_000 };
    const result = compareResults([encode], [slower], { tolerance: 0.1, gate: "absolute" });
    const row = comparisonTable(result).split("\n")[2];
    assert.match(
      row,
      /^! codec\/encode extended 64 B\s+ops\/s\s+2,500,000\s+1,250,000\s+0\.5\s+±2\.12%\s+REGRESSION$/,
    );
  });

  it("formats figures of every size (scenarios/format.ts figure)", () => {
    assert.equal(figure(1234567.8), "1,234,568");
    assert.equal(figure(7234), "7,234");
    assert.equal(figure(123.45), "123.5");
    assert.equal(figure(4.56789), "4.568");
    assert.equal(figure(0.0123456), "0.01235");
    assert.equal(figure(0), "0");
    assert.equal(figure(undefined), "-");
  });
});

describe("repeated figures", () => {
  it("gives the mean and a Student's t margin, the median, and no false precision for one run", () => {
    const { mean, rmePercent } = meanWithMargin([10, 12, 14]);
    assert.equal(mean, 12);
    // sd 2, sem 2/sqrt(3), t(2) = 4.303 -> 4.303 * 1.1547 / 12 = 41.4%
    assert.ok(Math.abs(rmePercent - (100 * 4.303 * (2 / Math.sqrt(3))) / 12) < 1e-9);
    assert.deepEqual(meanWithMargin([5]), { mean: 5, rmePercent: 100 });
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.deepEqual(medianWithMargin([10, 10, 10, 10, 2]).mean, 10);
  });

  it("picks the median record, and gives a spread only over two or more measured figures", () => {
    const rounds = [
      { pps: 30, errors: 1 },
      { pps: 10, errors: 2 },
      { pps: 20, errors: 3 },
      { pps: 40, errors: 4 },
    ];
    assert.deepEqual(
      medianBy(rounds, (r) => r.pps),
      { pps: 20, errors: 3 },
    );
    assert.equal(
      medianBy([], (r: number) => r),
      null,
    );
    assert.equal(relativeSpread([90, 100, 110]), 0.2);
    assert.equal(relativeSpread([100]), null);
    assert.equal(relativeSpread([0, 0]), null);
  });

  it("reads the machine's busy and stolen shares from two /proc/stat samples", () => {
    const a = parseCpuTicks("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 50 0 50 350 50 0 0 0 0 0\n");
    const b = parseCpuTicks("cpu  300 0 200 900 100 0 0 100 50 0\nintr 1\n");
    assert.deepEqual(a, { total: 1000, idle: 800, steal: 0 });
    assert.ok(a && b);
    // 600 ticks passed: 200 idle, 100 stolen (guest time is already in user)
    const { busyShare, stealShare } = machineBusy(a, b);
    assert.ok(Math.abs(busyShare - 4 / 6) < 1e-12);
    assert.ok(Math.abs(stealShare - 1 / 6) < 1e-12);
    assert.equal(parseCpuTicks("no cpu line"), null);
  });
});

describe("end-to-end measurements", () => {
  const run = (deliveredPerSecond: number | null, lost: number): EndToEndRun => ({
    sent: 1000,
    expected: 1000,
    received: 1000 - lost,
    lost,
    kernelDrops: lost,
    queueDrops: 0,
    deliveredPerSecond,
    rateNotMeasured: deliveredPerSecond === null ? "every message arrived between two polls" : null,
    readingAfterSendMs: 2,
    blastMs: 52,
    achievedPps: 20_000,
    p99Us: 900,
    busyUsPerMessage: 3,
    referenceOpsPerSecond: 500_000,
  });
  const result: EndToEndResult = {
    options: { runs: 3, messages: 1000, ratePps: 20_000, hosts: 64, seed: 42, rcvbufBytes: 1 },
    runs: [run(20_000, 0), run(19_000, 2), run(21_000, 0)],
    spread: 2_000 / 20_000,
    zeroLoss: false,
    aborted: false,
    error: null,
  };

  it("names, units and directions: medians, the loss summed and gated always, a cost ratio", () => {
    const ms = endToEndMeasurements(result);
    const by = new Map(ms.map((m) => [m.name, m]));
    assert.deepEqual(
      [...by.keys()],
      [
        "e2e/reference",
        "e2e/delivered messages/s",
        "e2e/lost messages",
        "e2e/end-to-end p99 latency",
        "e2e/receiver busy time per message",
        "e2e/receiver busy time per message vs reference",
      ],
    );
    const rate = by.get("e2e/delivered messages/s")!;
    assert.deepEqual(
      [rate.value, rate.unit, rate.direction, rate.kind],
      [20_000, "msgs/s", "bigger", "absolute"],
    );
    const lost = by.get("e2e/lost messages")!;
    assert.deepEqual([lost.value, lost.direction, lost.always], [2, "smaller", true]);
    // 3 µs x 0.5 reference ops per µs
    assert.equal(by.get("e2e/receiver busy time per message vs reference")!.value, 1.5);
    assert.equal(by.get("e2e/end-to-end p99 latency")!.unit, "µs");
    assert.deepEqual(endToEndMeasurements({ ...result, runs: [] }), []);
  });

  it("times the rate from the first send to the last arrival, and says when it cannot", () => {
    // 2000 messages sent over 100 ms; the listeners read the last one 4 ms after the blaster
    // was done (the poll saw it within 2 ms)
    const span = {
      sendSpanMs: 100,
      sendDoneAt: 5000,
      lastArrivalAt: 5004,
      beforeLastArrivalAt: 5002,
      delivered: 2000,
    };
    const timed = deliveredRate(span);
    assert.equal(timed.notMeasured, null);
    assert.ok(Math.abs((timed.perSecond ?? 0) - 2000 / 0.104) < 1e-6);
    // every message read before runBlast returned: the send span alone, never above the
    // blaster's rate however the reads bunched up (this printed 0, or 25-27k at 20k offered)
    assert.equal(
      deliveredRate({ ...span, lastArrivalAt: 4990, beforeLastArrivalAt: 4989 }).perSecond,
      20_000,
    );
    // half delivered: half the rate
    assert.equal(
      deliveredRate({ ...span, lastArrivalAt: 4990, delivered: 1000 }).perSecond,
      10_000,
    );
    // the poll was held up 20 ms before it saw the last arrival: more than 10% of the run
    const late = deliveredRate({ ...span, lastArrivalAt: 5030, beforeLastArrivalAt: 5010 });
    assert.equal(late.perSecond, null);
    assert.match(late.notMeasured ?? "", /within 20\.0 ms of a 130\.0 ms run/);
    assert.equal(deliveredRate({ ...span, delivered: 0 }).notMeasured, "nothing was delivered");
    assert.match(deliveredRate({ ...span, sendSpanMs: 0 }).notMeasured ?? "", /one instant/);
  });

  it("leaves untimed runs out of the rate and the spread, and prints why instead of a number", () => {
    const oneTimed: EndToEndResult = {
      ...result,
      runs: [run(null, 0), run(20_000, 0)],
      spread: null,
      zeroLoss: true,
    };
    const rate = endToEndMeasurements(oneTimed).find((m) => m.name === "e2e/delivered messages/s");
    assert.deepEqual([rate?.value, rate?.samples], [20_000, 1]);
    assert.match(rate?.extra ?? "", /median of 1 timed runs .*\(1 not timed\)/);
    const none = endToEndMeasurements({ ...oneTimed, runs: [run(null, 0)] });
    assert.equal(
      none.some((m) => m.name === "e2e/delivered messages/s"),
      false,
    );
    const text = e2eSummary(oneTimed);
    assert.match(text, /^1 +not timed +1,000 /m);
    assert.match(text, /^2 +20,000\/s +1,000 /m);
    assert.match(
      text,
      /^run 1: delivered rate not timed: every message arrived between two polls$/m,
    );
    assert.match(
      text,
      /spread of delivered msgs\/s: not measured \(fewer than 2 timed runs\); zero loss/,
    );
    assert.match(e2eSummary(result), /\(max-min\)\/median over 3 timed runs: 10%; LOSS/);
  });
});
