/**
 * Scale-out: a load split into shards (`blast --shard I/N`, or JOB_COMPLETION_INDEX as a
 * Kubernetes Indexed Job sets it) sends exactly the one-process traffic, and `merge` puts the
 * shards' reports and truth files back together. The shard arithmetic, the same datagrams from
 * N shards as from one process, merge's refusals, and a local rehearsal through the real CLI:
 * N shard processes into our receiver, then merge, compared with one process.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { runBlast } from "../blaster/blast.ts";
import type { BlastOptions } from "../blaster/options.ts";
import {
  hostsOfShard,
  messagesOfShard,
  shardFromEnvironment,
  threadShards,
} from "../blaster/shard-plan.ts";
import { readTruth } from "../blaster/truth.ts";
import { skipUnless } from "./capabilities.ts";
import { cli, receiveOnLoopback } from "./cli-process.ts";
import { addonSkipReason } from "./raw-support.ts";

/** Our receiver on a free loopback port, reading `truth` and `blastReport` when it stops. */
async function receiver(dir: string, name: string) {
  const json = join(dir, `${name}.receiver.json`);
  const r = await receiveOnLoopback([
    ...["-w", "2", "--rcvbuf", "4m", "--json", json],
    ...["--truth", join(dir, `${name}.truth`), "--blast-report", join(dir, `${name}.json`)],
  ]);
  const port = r.port;
  return {
    port,
    child: r.child,
    /** Stops it (SIGTERM: it drains, reads the truth and the report, writes its JSON). */
    async stop(child: ChildProcess = r.child) {
      child.kill("SIGTERM");
      const result = await r.done;
      assert.equal(result.code, 130, result.stderr);
      return JSON.parse(readFileSync(json, "utf8"));
    },
  };
}

describe("shard arithmetic", () => {
  it("every host's messages are the same whatever the split; the shards' parts add up", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 4 }),
        (hosts, total, n, workers) => {
          fc.pre(n * workers <= hosts);
          let messages = 0;
          let hostCount = 0;
          for (let i = 0; i < n; i++) {
            for (const t of threadShards({ index: i, count: n }, workers)) {
              const mine = messagesOfShard(total, hosts, t.count, t.index);
              // Round-robin over the shard's hosts in ascending order (as the send loop does)
              // gives each host floor(total / hosts), one more for the first total % hosts.
              const k = hostsOfShard(hosts, t.count, t.index);
              for (let j = 0; j < k; j++) {
                const host = t.index + j * t.count;
                const got = Math.floor(mine / k) + (j < mine % k ? 1 : 0);
                const want = Math.floor(total / hosts) + (host < total % hosts ? 1 : 0);
                assert.equal(got, want, `host ${host} of shard ${t.index}/${t.count}`);
              }
              messages += mine;
              hostCount += k;
            }
          }
          assert.equal(messages, total);
          assert.equal(hostCount, hosts);
        },
      ),
    );
  });

  it("takes the shard from JOB_COMPLETION_INDEX with N from --shards or NCB_SHARDS", () => {
    assert.equal(shardFromEnvironment({}, undefined), null);
    assert.deepEqual(shardFromEnvironment({ JOB_COMPLETION_INDEX: "2" }, "5"), { shard: "2/5" });
    assert.deepEqual(
      shardFromEnvironment({ JOB_COMPLETION_INDEX: "2", NCB_SHARDS: "4" }, undefined),
      { shard: "2/4" },
    );
    const missing = shardFromEnvironment({ JOB_COMPLETION_INDEX: "2" }, undefined);
    assert.ok(missing && "error" in missing);
    assert.match(missing.error, /--shards N or NCB_SHARDS=N/);
  });
});

describe("shards of one load", () => {
  it("N shards send exactly the datagrams of one process (per source, byte for byte), and their truths add up to its truth", async () => {
    const socket = createSocket({ type: "udp4", recvBufferSize: 8 << 20 });
    const got = new Map<string, string[]>();
    socket.on("message", (bytes, rinfo) => {
      got.set(rinfo.address, [...(got.get(rinfo.address) ?? []), bytes.toString("base64")]);
    });
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    const dir = mkdtempSync(join(tmpdir(), "ncb-shards-"));
    const load: BlastOptions = {
      target: `127.0.0.1:${socket.address().port}`,
      ...{ hosts: 23, count: 1111, seed: 77, stamp: false, format: "mixed", size: "20-1800" },
      ...{ loss: "3%", duplicate: "2%", reorder: "5%", rate: "15k" },
    };
    const received = async () => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const out = Object.fromEntries([...got].sort());
      got.clear();
      return out;
    };
    const one = await runBlast({ ...load, workers: 2, truth: join(dir, "one.truth") });
    const oneBytes = await received();
    const shards = await Promise.all(
      [0, 1, 2].map((i) =>
        runBlast(
          { ...load, shard: `${i}/3`, truth: join(dir, `s${i}.truth`) },
          { mainThread: false },
        ),
      ),
    );
    const shardBytes = await received();
    socket.close();
    assert.equal(Object.keys(oneBytes).length, 23);
    assert.deepEqual(shardBytes, oneBytes);
    assert.equal(
      shards.reduce((n, r) => n + r.messages, 0),
      one.messages,
    );
    // Sources never collide: each shard's hosts are its own.
    const truths = [0, 1, 2].map((i) => readTruth(join(dir, `s${i}.truth`)));
    const hostsOf = truths.map((t) => new Set(t.hosts.map((h) => h.source)));
    for (let a = 0; a < 3; a++)
      for (let b = a + 1; b < 3; b++)
        for (const s of hostsOf[a]) assert.ok(!hostsOf[b].has(s), `${s} in shards ${a} and ${b}`);
    const whole = readTruth(join(dir, "one.truth"));
    assert.deepEqual(
      truths.flatMap((t) => t.hosts).sort((x, y) => x.host - y.host),
      whole.hosts,
    );
    assert.deepEqual(
      truths.map((t) => t.run.shard),
      [
        { index: 0, count: 3 },
        { index: 1, count: 3 },
        { index: 2, count: 3 },
      ],
    );
  });
});

describe("--start-at", () => {
  it("waits for a time ahead; a time already past is said and counted in the lateness", async (t) => {
    const socket = createSocket("udp4");
    t.after(() => socket.close());
    let firstAt = 0;
    socket.on("message", () => {
      firstAt ||= Date.now();
    });
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    const load = { target: `127.0.0.1:${socket.address().port}`, hosts: 4, seed: 5, rate: 2000 };
    const at = Date.now() + 3000;
    let waitMs = 0;
    const ahead = await runBlast(
      { ...load, count: 200, startAt: new Date(at).toISOString() },
      { mainThread: true, onStart: (s) => (waitMs = s.waitMs) },
    );
    assert.ok(waitMs > 1000 && waitMs <= 3000, `waited ${waitMs} ms`);
    assert.ok(firstAt >= at - 5, `first datagram ${at - firstAt} ms before --start-at`);
    assert.equal(ahead.start.lateUs, 0);
    assert.equal(ahead.start.atMs, at);

    const past = Date.now() - 400;
    const late = await runBlast({ ...load, duration: "1s", startAt: past }, { mainThread: true });
    assert.ok(late.start.lateUs >= 400_000, `late by ${late.start.lateUs} µs`);
    assert.match(late.notes.join("\n"), /started [0-9.,]+ (µs|ms|s) after --start-at/);
    // The common schedule is kept: what was due in the missed time went out late.
    assert.ok(late.latenessUs!.max >= 350_000, `max lateness ${late.latenessUs!.max} µs`);
    // It ends with the others, one --duration after the common start, having sent what was due.
    assert.ok(late.durationMs >= 1000 && late.durationMs < 1300, `${late.durationMs} ms`);
    assert.ok(Math.abs(late.messages - 2000) <= 100, `${late.messages} messages`);
  });
});

describe("merge command", () => {
  it("refuses reports that are not every shard of one load, in one line (exit 2)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ncb-merge-"));
    const sink = createSocket("udp4");
    await new Promise<void>((resolve) => sink.bind(0, "127.0.0.1", resolve));
    const base = ["blast", "-t", `127.0.0.1:${sink.address().port}`, "-n", "6", "-c", "60"];
    const runs = await Promise.all([
      cli([...base, "--seed", "1", "--shard", "0/2", "--json", join(dir, "a0.json")]),
      cli([...base, "--seed", "1", "--shard", "1/2", "--json", join(dir, "a1.json")]),
      cli([...base, "--seed", "2", "--shard", "1/2", "--json", join(dir, "b1.json")]),
      cli([...base, "--seed", "1", "--shard", "1/2", "-r", "5k", "--json", join(dir, "c1.json")]),
    ]);
    sink.close();
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    writeFileSync(join(dir, "junk.json"), '{"hello": 1}\n');
    const cases: [string[], RegExp][] = [
      [["a0.json", "b1.json"], /b1\.json has seed 2, .*a0\.json seed 1: not shards of one load/],
      [["a0.json", "c1.json"], /not shards of one load: plan\.ratePps 5000 vs 0/],
      [["a0.json"], /shard 1 of 2 missing/],
      [["a0.json", "a0.json", "a1.json"], /both hold shard 0\/2/],
      [["a0.json", "junk.json"], /junk\.json is not a blast report/],
      [["a0.json", "nothere.json"], /cannot read .*nothere\.json: ENOENT/],
    ];
    for (const [files, message] of cases) {
      const r = await cli(["merge", ...files.map((f) => join(dir, f))]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    const ok = await cli(["merge", join(dir, "a0.json"), join(dir, "a1.json"), "--json", "-"]);
    assert.equal(ok.code, 0, ok.stderr);
    const merged = JSON.parse(ok.stdout);
    assert.equal(merged.messages, 60);
    assert.deepEqual(merged.shards, { count: 2, included: [0, 1] });
    assert.match(ok.stderr, /blast: seed 1, 2 of 2 shards merged/);
  });
});

describe("local rehearsal of a scaled-out load", () => {
  it("3 shard processes (JOB_COMPLETION_INDEX as Kubernetes sets it) into our receiver, merged: the same report and receiver findings as one process", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "ncb-rehearsal-"));
    const load = ["-n", "30", "-c", "1500", "-r", "6000", "--seed", "4242", "--no-progress"];
    const impair = ["--loss", "2%", "--duplicate", "1%", "--reorder", "3%"];
    const blast = (port: number, name: string, extra: string[] = []) => [
      ...["blast", "-t", `127.0.0.1:${port}`, ...load, ...impair, ...extra],
      ...["--json", join(dir, `${name}.json`), "--truth", join(dir, `${name}.truth`)],
    ];

    // One process.
    const single = await receiver(dir, "one");
    t.after(() => single.child.kill());
    const one = await cli(blast(single.port, "one"));
    assert.equal(one.code, 0, one.stderr);
    const oneReceived = await single.stop();

    // Three shards, started together, then merged.
    const sharded = await receiver(dir, "merged");
    t.after(() => sharded.child.kill());
    const startAt = String(Date.now() + 6000);
    const shards = await Promise.all(
      [0, 1, 2].map((i) =>
        cli(blast(sharded.port, `s${i}`, ["--start-at", startAt]), {
          JOB_COMPLETION_INDEX: String(i),
          NCB_SHARDS: "3",
        }),
      ),
    );
    for (const r of shards) {
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /blast: seed 4242, shard \d\/3/);
    }
    const merged = await cli([
      "merge",
      ...[0, 1, 2].map((i) => join(dir, `s${i}.json`)),
      ...["--json", join(dir, "merged.json"), "--truth", join(dir, "merged.truth")],
    ]);
    assert.equal(merged.code, 0, merged.stderr);
    const mergedReceived = await sharded.stop();

    // The blaster side: the same counts, the same truth (byte for byte).
    const a = JSON.parse(readFileSync(join(dir, "one.json"), "utf8"));
    const b = JSON.parse(readFileSync(join(dir, "merged.json"), "utf8"));
    for (const key of [
      "messages",
      "messagesExtended",
      "datagrams",
      "fragmentsSent",
      "injected",
      "expected",
    ]) {
      assert.deepEqual(b[key], a[key], key);
    }
    assert.equal(b.packets.sent, a.packets.sent);
    assert.equal(b.packets.errors, 0);
    assert.equal(b.rate.targetPps, 6000);
    assert.deepEqual(b.shards, { count: 3, included: [0, 1, 2] });
    // The same truth, line for line (the two receivers listened on different ports).
    const text = (name: string) =>
      readFileSync(join(dir, `${name}.truth`), "utf8").replace(/"target":"[^"]*"/, "");
    assert.ok(
      text("one") === text("merged"),
      "the merged truth differs from the one-process truth",
    );
    assert.equal(readTruth(join(dir, "merged.truth")).hosts.length, 30);

    // The receiver side: the same findings, and every datagram accounted for.
    for (const r of [oneReceived, mergedReceived]) {
      assert.equal(r.drops.kernel + r.drops.queue, 0, "loopback dropped datagrams: compare void");
      assert.equal(r.ledger.balanced, true, JSON.stringify(r.ledger));
      assert.equal(r.ledger.messagesMatch, true, JSON.stringify(r.ledger.messages));
    }
    assert.deepEqual(mergedReceived.messages, oneReceived.messages);
    // What was found (how a hole was closed, by its timeout or at the end, depends on timing).
    for (const key of ["missing", "duplicates", "outOfOrder", "missingEdges", "truthHostsUnseen"]) {
      assert.equal(mergedReceived.sequence[key], oneReceived.sequence[key], `sequence.${key}`);
    }
    assert.equal(mergedReceived.sequence.missing, b.expected.missing);
    assert.equal(mergedReceived.hosts, oneReceived.hosts);
    assert.equal(mergedReceived.packets.received, oneReceived.packets.received);
  });
});

describe("blast report gso block", { skip: skipUnless("addon", addonSkipReason()) }, () => {
  it("udp-batch with a shared source and equal sizes: GSO used, fewer sends than datagrams; merged, the sums", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "ncb-gso-"));
    const sink = createSocket({ type: "udp4", recvBufferSize: 8 << 20 });
    t.after(() => sink.close());
    await new Promise<void>((resolve) => sink.bind(0, "127.0.0.1", resolve));
    const base = ["blast", "-t", `127.0.0.1:${sink.address().port}`, "--no-progress"];
    const load = [...["-n", "8", "-c", "4000", "--seed", "3", "--transport", "udp-batch"]];
    const runs = await Promise.all(
      [0, 1].map((i) =>
        cli([
          ...[...base, ...load, "--sources", "shared", "--size", "64", "--gso", "auto"],
          ...["--shard", `${i}/2`, "--json", join(dir, `g${i}.json`)],
        ]),
      ),
    );
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const [a, b] = [0, 1].map((i) => JSON.parse(readFileSync(join(dir, `g${i}.json`), "utf8")));
    for (const r of [a, b]) {
      assert.equal(r.gso.mode, "auto");
      assert.equal(r.gso.used, true, JSON.stringify(r.gso));
      assert.ok(r.gso.sends > 0 && r.gso.sends < r.gso.datagrams, JSON.stringify(r.gso));
      assert.ok(r.gso.datagrams <= r.datagrams, JSON.stringify(r.gso));
    }
    assert.match(runs[0].stdout, /UDP GSO \(--gso auto\): [\d,]+ datagrams in [\d,]+ GSO sends/);
    const merged = await cli(["merge", join(dir, "g0.json"), join(dir, "g1.json"), "--json", "-"]);
    assert.equal(merged.code, 0, merged.stderr);
    const m = JSON.parse(merged.stdout);
    assert.deepEqual(m.gso, {
      mode: "auto",
      used: true,
      sends: a.gso.sends + b.gso.sends,
      datagrams: a.gso.datagrams + b.gso.datagrams,
    });
    // Off: the same load sends every datagram on its own.
    const off = await cli([
      ...base,
      ...load,
      "--sources",
      "shared",
      "--size",
      "64",
      "--gso",
      "off",
      "--json",
      "-",
    ]);
    assert.equal(off.code, 0, off.stderr);
    assert.deepEqual(JSON.parse(off.stdout).gso, {
      mode: "off",
      used: false,
      sends: 0,
      datagrams: 0,
    });
  });
});
