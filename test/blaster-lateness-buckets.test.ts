/**
 * The live lateness buckets (blaster/lateness-buckets.ts): every value lands in a bucket whose
 * range holds it and is at most 12.5% wide, and interval percentiles from two snapshots agree
 * with the exact percentiles of the interval's values within a bucket; through the CLI, the
 * `blast --ndjson` intervals of a paced run carry them (and an unpaced run's are null).
 */
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  bucketHighUs,
  bucketOf,
  intervalLateness,
  LATENESS_BUCKETS,
  LATENESS_SLOTS,
  recordLateness,
  sumLatenessRows,
} from "../blaster/lateness-buckets.ts";
import { cli } from "./cli-process.ts";

/** The exact percentile (nearest rank) of sorted values. */
function exact(sorted: number[], p: number): number {
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1];
}

describe("lateness buckets", () => {
  it("each value is in a bucket that holds it, at most 12.5% wide, buckets in order", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 2 }), (v) => {
        const b = bucketOf(v);
        assert.ok(b >= 0 && b < LATENESS_BUCKETS, `bucket ${b}`);
        const low = b === 0 ? 0 : bucketHighUs(b - 1) + 1;
        assert.ok(low <= v && v <= bucketHighUs(b), `${v} in [${low}, ${bucketHighUs(b)}]`);
        assert.ok(bucketHighUs(b) - low <= low / 8, `bucket ${b} is [${low}, ${bucketHighUs(b)}]`);
      }),
    );
    assert.equal(bucketOf(-5), 0);
    assert.equal(bucketOf(7.9), 7);
    assert.equal(bucketOf(1e12), LATENESS_BUCKETS - 1);
    for (let b = 1; b < LATENESS_BUCKETS; b++) assert.ok(bucketHighUs(b) > bucketHighUs(b - 1));
  });

  it("interval percentiles of two snapshots: those of the interval's values, within a bucket", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5_000_000 }), { maxLength: 300 }),
        fc.array(fc.integer({ min: 0, max: 5_000_000 }), { minLength: 1, maxLength: 300 }),
        (first, second) => {
          // Two threads' rows; the values alternate between them.
          const rows = new Float64Array(2 * LATENESS_SLOTS);
          first.forEach((v, i) => {
            recordLateness(rows, (i % 2) * LATENESS_SLOTS, v);
          });
          const before = sumLatenessRows(rows, [0, 1]);
          second.forEach((v, i) => {
            recordLateness(rows, (i % 2) * LATENESS_SLOTS, v);
          });
          const got = intervalLateness(sumLatenessRows(rows, [0, 1]), before);
          assert.ok(got);
          const sorted = [...second].sort((a, b) => a - b);
          for (const [p, value] of [
            [50, got.p50],
            [99, got.p99],
          ] as const) {
            const want = exact(sorted, p);
            assert.equal(bucketOf(value), bucketOf(want), `p${p} ${value} for ${want}`);
          }
          assert.equal(bucketOf(got.max), bucketOf(sorted[sorted.length - 1]));
          assert.ok(got.p50 <= got.p99 && got.p99 <= got.max);
          assert.ok(got.max <= Math.max(...first, ...second));
        },
      ),
    );
  });

  it("an interval with nothing counted has no percentiles", () => {
    const rows = new Float64Array(LATENESS_SLOTS);
    assert.equal(intervalLateness(sumLatenessRows(rows, [0]), null), null);
    recordLateness(rows, 0, 42);
    const a = sumLatenessRows(rows, [0]);
    assert.deepEqual(intervalLateness(a, null), { p50: 42, p99: 42, max: 42 });
    assert.equal(intervalLateness(sumLatenessRows(rows, [0]), a), null);
  });
});

describe("blast --ndjson lateness", () => {
  it("a paced run's intervals carry p50 <= p99 <= max of that interval; unpaced, null", async (t) => {
    const sink = createSocket("udp4");
    t.after(() => sink.close());
    await new Promise<void>((resolve) => sink.bind(0, "127.0.0.1", resolve));
    const base = ["blast", "-t", `127.0.0.1:${sink.address().port}`, "-n", "10", "--no-progress"];
    const json = join(mkdtempSync(join(tmpdir(), "ncb-ndjson-")), "paced.json");
    const paced = await cli([...base, "-r", "2000", "-d", "3.5s", "--ndjson", "-", "--json", json]);
    assert.equal(paced.code, 0, paced.stderr);
    const lines = paced.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.ok(lines.length >= 3, paced.stdout);
    for (const line of lines) {
      assert.ok(line.sent > 0, JSON.stringify(line));
      const l = line.latenessUs;
      assert.ok(l, JSON.stringify(line));
      assert.deepEqual(Object.keys(l).sort(), ["max", "p50", "p99"]);
      assert.ok(l.p50 >= 0 && l.p50 <= l.p99 && l.p99 <= l.max, JSON.stringify(l));
      // Paced on an idle loopback: lateness is a matter of milliseconds, not seconds.
      assert.ok(l.p50 < 1_000_000, JSON.stringify(l));
    }
    // No interval is later than the whole run's latest send (its HDR histogram: within 0.1%).
    const whole = JSON.parse(readFileSync(json, "utf8")).latenessUs;
    const latest = Math.max(...lines.map((l) => l.latenessUs.max));
    assert.ok(latest <= whole.max * 1.001 + 1, `${latest} vs ${whole.max}`);

    const unpaced = await cli([...base, "-d", "2.5s", "--ndjson", "-", "--json", "/dev/null"]);
    assert.equal(unpaced.code, 0, unpaced.stderr);
    const unpacedLines = unpaced.stdout.trim().split("\n").filter(Boolean);
    assert.ok(unpacedLines.length >= 1, unpaced.stdout);
    for (const l of unpacedLines) assert.equal(JSON.parse(l).latenessUs, null);
  });
});
