/**
 * Merging receiver reports through the real CLI: two `receive` runs on loopback, each fed one
 * shard of a load by `blast`, merged by `merge` into one report whose counts are the sums and
 * whose latency percentiles are those of the merged histograms; and merge's refusals (a blast
 * report among receiver reports, receivers with different settings) in one line, exit 2.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { mergeEncoded, summarize } from "../blaster/latency.ts";
import { type ReceiverReport, receiverReportSchema } from "../receiver/receiver-report.ts";
import { receiveOnLoopback, startCli as start } from "./cli-process.ts";

/** A `receive` on a free loopback port writing its report to `json`; stop() ends it (SIGTERM). */
async function receiver(json: string, extra: string[] = []) {
  const r = await receiveOnLoopback(["--json", json, ...extra]);
  const port = r.port;
  return {
    port,
    kill: () => r.child.kill("SIGKILL"),
    async stop(): Promise<ReceiverReport> {
      r.child.kill("SIGTERM");
      const result = await r.done;
      assert.equal(result.code, 130, result.stderr);
      const { ledger: _ledger, ...report } = JSON.parse(readFileSync(json, "utf8"));
      return receiverReportSchema.parse(report);
    },
  };
}

describe("merge of receiver reports", () => {
  it("two receivers, each fed one shard by blast: the merged report is their sum, its p99 that of the merged histograms", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "ncb-receiver-merge-"));
    const files = [0, 1].map((i) => join(dir, `r${i}.json`));
    // The first one also reads its blaster's report at the end: its JSON gains the loss ledger.
    const receivers = await Promise.all(
      files.map((f, i) => receiver(f, i === 0 ? ["--blast-report", join(dir, "b0.json")] : [])),
    );
    t.after(() => {
      for (const r of receivers) r.kill();
    });
    const load = ["-n", "20", "-c", "1200", "-r", "3000", "--seed", "9", "--no-progress"];
    const blasts = await Promise.all(
      receivers.map(
        (r, i) =>
          start([
            ...["blast", "-t", `127.0.0.1:${r.port}`, ...load, "--shard", `${i}/2`],
            ...["--duplicate", "2%", "--json", join(dir, `b${i}.json`)],
          ]).done,
      ),
    );
    for (const b of blasts) assert.equal(b.code, 0, b.stderr);
    const [a, b] = await Promise.all(receivers.map((r) => r.stop()));

    const merged = start(["merge", ...files, "--json", "-"]);
    const done = await merged.done;
    assert.equal(done.code, 0, done.stderr);
    const m = receiverReportSchema.parse(JSON.parse(done.stdout));
    assert.match(done.stderr, /netcons-bench receive \(2 receivers merged\)/);
    assert.match(done.stderr, /advice {4}left out: 2 receivers merged/);
    assert.match(done.stderr, /loss ledger left out/);
    assert.ok("ledger" in JSON.parse(readFileSync(files[0], "utf8")));

    // Each receiver got its shard: the counts are real, and the merge is their sum.
    for (const r of [a, b]) {
      assert.ok(r.packets.received > 500, `${r.packets.received} datagrams`);
      assert.ok(r.messages.duplicates > 0, "the injected duplicates were dropped");
    }
    assert.equal(m.packets.read, a.packets.read + b.packets.read);
    assert.equal(m.packets.received, a.packets.received + b.packets.received);
    const sent = [0, 1].reduce(
      (n, i) => n + JSON.parse(readFileSync(join(dir, `b${i}.json`), "utf8")).packets.sent,
      0,
    );
    assert.equal(m.packets.received + m.drops.kernel + m.drops.queue, sent);
    assert.equal(m.hosts, a.hosts + b.hosts);
    assert.equal(m.hosts, 20);
    for (const key of Object.keys(m.messages) as (keyof ReceiverReport["messages"])[]) {
      assert.equal(m.messages[key], a.messages[key] + b.messages[key], `messages.${key}`);
    }
    for (const key of Object.keys(m.sequence) as (keyof ReceiverReport["sequence"])[]) {
      assert.equal(m.sequence[key], a.sequence[key] + b.sequence[key], `sequence.${key}`);
    }
    assert.equal(m.drops.kernel, a.drops.kernel + b.drops.kernel);
    assert.equal(m.perWorker.length, a.perWorker.length + b.perWorker.length);
    assert.deepEqual(
      m.perListener.map((l) => l.datagrams),
      [...a.perListener, ...b.perListener].map((l) => l.datagrams),
    );
    assert.equal(m.config.workers, a.config.workers + b.config.workers);
    assert.equal(m.mergedFrom, 2);
    assert.deepEqual(m.advice, []);

    // Latency: the merged histogram's percentiles, as merging the two in process gives them.
    assert.equal(
      m.latencyUs.endToEnd.count,
      a.latencyUs.endToEnd.count + b.latencyUs.endToEnd.count,
    );
    assert.ok(m.latencyUs.endToEnd.count >= 1200, "stamped messages timed end to end");
    for (const [name, scale] of [
      ["endToEnd", 1],
      ["queue", 1],
      ["processing", 1000],
    ] as const) {
      const h = mergeEncoded([a.histograms[name], b.histograms[name]]);
      const inProcess = summarize(h, scale);
      h.destroy();
      assert.equal(m.latencyUs[name].p99, inProcess.p99, `${name} p99`);
      assert.equal(m.latencyUs[name].max, Math.max(a.latencyUs[name].max, b.latencyUs[name].max));
    }

    // Refusals, in one line with exit 2.
    const other = join(dir, "other.json");
    const odd = await receiver(other, ["--seq-window", "1024"]);
    await odd.stop();
    const cases: [string[], RegExp][] = [
      [
        [files[0], join(dir, "b0.json")],
        /r0\.json is a receiver report and .*b0\.json is not: merge blast reports \(and truth files\) or receiver reports, not both/,
      ],
      [
        [files[0], other],
        /other\.json and .*r0\.json are receivers with different settings: config\.seqWindow 1024 vs 512/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await start(["merge", ...args]).done;
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  });
});
