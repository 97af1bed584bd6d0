/**
 * The receiver end to end: real UDP sockets on loopback, real listener and worker threads.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { encodeExtended, encodeLegacy } from "../blaster/codec.ts";
import { formatStamp, monotonicUs } from "../blaster/stamp.ts";
import { type ReceiverOptions, resolveReceiverOptions } from "../receiver/options.ts";
import { type ReceiverReport, startReceiver } from "../receiver/receive.ts";
import { workerForAddress } from "../receiver/route.ts";
import { loopbackReceiver, pause, sender, waitProcessed } from "./receiver-helpers.ts";
import { WIRE_VECTORS } from "./vectors.ts";

const dir = mkdtempSync(join(tmpdir(), "ncb-receiver-"));
after(() => {
  // Files stay in the OS temp dir; nothing else to undo (every receiver is stopped in its test).
});

function readJsonl(file: string): Record<string, unknown>[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l));
}

describe("receiver end to end (loopback, threads)", () => {
  it("delivers the wire-format vectors E1-E8 to the jsonl sink exactly", async () => {
    const file = join(dir, "vectors.jsonl");
    const r = await loopbackReceiver({
      workers: 2,
      rcvbuf: 4 << 20,
      output: { kind: "jsonl", file },
    });
    const s = await sender("127.0.0.1");
    const datagrams = WIRE_VECTORS.flatMap((v) => v.payloads).map((t) => Buffer.from(t, "latin1"));
    for (const d of datagrams) {
      await s.send(d);
      await pause(2);
    }
    await waitProcessed(r, datagrams.length);
    const report = await r.stop();
    s.close();
    assert.equal(report.packets.received, 10);
    assert.equal(report.messages.extended, 7);
    assert.equal(report.messages.legacy, 1);
    assert.equal(report.messages.fragments, 4);
    assert.equal(report.messages.reassembled, 2);
    // Two workers write the sink in any order: compare sorted by seq (legacy has none).
    const order = (m: Record<string, unknown>) => (typeof m.seq === "number" ? m.seq : -1);
    const lines = readJsonl(file).sort((a, b) => order(a) - order(b));
    const expected = WIRE_VECTORS.map((v) => ({ source: "127.0.0.1", ...v.message })).sort(
      (a, b) => order(a) - order(b),
    );
    assert.deepEqual(lines, expected);
  });

  it("counts known loss, reordering and duplication exactly, per host", async () => {
    // A large buffer: exact counts need no kernel drop, even on a machine busy with other work.
    const r = await loopbackReceiver({ listeners: 2, workers: 2, rcvbuf: 4 << 20 });
    // Host A: 0..49, 10 and 20 lost, 30 duplicated, 41 before 40.
    // Host B: 100..139 as 3-fragment messages; seq 110's middle fragment lost, seq 120's first
    // fragment duplicated, seq 125 sent after 127 (fragments reversed).
    // Host C: legacy lines only.
    const a = await sender("127.0.0.2");
    const b = await sender("127.0.0.3");
    const c = await sender("127.0.0.4");
    let sent = 0;
    const send = async (s: typeof a, d: Buffer) => {
      await s.send(d);
      sent++;
      if (sent % 16 === 0) await pause(2);
    };
    const msg = (seq: number, text: string) =>
      encodeExtended({ facility: 0, level: 6, seq, tsUs: seq, text }, { chunkSize: 60 });
    for (let seq = 0; seq < 50; seq++) {
      if (seq === 10 || seq === 20 || seq === 40) continue;
      const [p] = msg(seq, `host a ${seq}`);
      await send(a, p);
      if (seq === 30) await send(a, p);
      if (seq === 41) await send(a, msg(40, "host a 40")[0]);
    }
    const bText = (seq: number) => `host b message ${seq} `.padEnd(90, "x");
    let held: Buffer[] = [];
    for (let seq = 100; seq < 140; seq++) {
      const frags = msg(seq, bText(seq));
      assert.equal(frags.length, 3);
      if (seq === 110) frags.splice(1, 1);
      if (seq === 120) frags.push(frags[0]);
      if (seq === 125) {
        held = frags.reverse();
        continue;
      }
      for (const f of frags) await send(b, f);
      if (seq === 127) for (const f of held) await send(b, f);
    }
    for (let i = 0; i < 10; i++) for (const p of encodeLegacy(`legacy ${i}`)) await send(c, p);
    await waitProcessed(r, sent);
    const report = await r.stop();
    for (const s of [a, b, c]) s.close();
    assert.equal(report.drops.kernel, 0, "no kernel drops on a paced loopback run");
    assert.equal(report.packets.received, sent);
    assert.equal(report.sequence.missing, 2 + 1);
    assert.equal(report.sequence.duplicates, 2, "seq 30 again, seq 120's first fragment again");
    assert.equal(report.sequence.outOfOrder, 2, "seq 40 after 41, seq 125 after 127");
    assert.equal(report.sequence.resets, 2, "first message of A and of B");
    assert.equal(report.messages.extended, 48 + 39);
    assert.equal(report.messages.legacy, 10);
    assert.equal(report.messages.incomplete, 1, "seq 110 lacks its middle fragment");
    assert.equal(report.messages.reassembled, 39);
    assert.equal(report.hosts, 3);
  });

  it("keeps each host on one worker and spreads hosts over workers", async () => {
    const r = await loopbackReceiver({ listeners: 2, workers: 3, rcvbuf: 4 << 20 });
    const hosts = await Promise.all(
      Array.from({ length: 12 }, (_, i) => sender(`127.0.1.${i + 1}`)),
    );
    let sent = 0;
    for (let seq = 0; seq < 10; seq++) {
      for (const h of hosts) {
        await h.send(encodeExtended({ facility: 0, level: 6, seq, tsUs: 0, text: "x" })[0]);
        sent++;
      }
      await pause(2);
    }
    await waitProcessed(r, sent);
    const report = await r.stop();
    for (const h of hosts) h.close();
    assert.equal(report.hosts, 12);
    // A host seen by two workers would be counted twice in the per-worker host counts.
    assert.equal(
      report.perWorker.reduce((s, w) => s + w.hosts, 0),
      12,
    );
    const expected = [0, 0, 0];
    for (const h of hosts) expected[workerForAddress(h.address, 3)] += 10;
    assert.deepEqual(
      report.perWorker.map((w) => w.datagrams),
      expected,
    );
    assert.equal(report.sequence.missing, 0);
    assert.equal(report.sequence.outOfOrder, 0);
  });

  it("reassembles fragments sent in any order; writes per-host files with dir:", async () => {
    const path = join(dir, "hosts");
    const r = await loopbackReceiver({ workers: 1, output: { kind: "dir", path } });
    const s = await sender("127.0.0.5");
    const text = Array.from({ length: 300 }, (_, i) => `w${i}`).join(" ");
    const frags = encodeExtended(
      { facility: 3, level: 2, seq: 9, tsUs: 1, text },
      { chunkSize: 200 },
    );
    assert.ok(frags.length >= 5);
    const order = frags.map((_, i) => i).sort((x, y) => ((x * 7) % 5) - ((y * 7) % 5) || y - x);
    for (const i of order) await s.send(frags[i]);
    await waitProcessed(r, frags.length);
    const report = await r.stop();
    s.close();
    assert.equal(report.messages.reassembled, 1);
    assert.equal(report.messages.incomplete, 0);
    assert.deepEqual(readdirSync(path), ["127.0.0.5.log"]);
    assert.equal(readFileSync(join(path, "127.0.0.5.log"), "utf8"), `S9 T1 F3/L2 ${text}\n`);
  });

  it("counts a malformed flood without crashing and keeps receiving", async () => {
    const r = await loopbackReceiver({ workers: 2, rcvbuf: 4 << 20 });
    const s = await sender("127.0.0.6");
    const bad = [
      Buffer.alloc(0), // empty
      Buffer.from("6,1,2,-,ncfrag=50/40;x"), // offset past total
      Buffer.from("6,1,2,-,ncfrag=0/99999;x"), // total over the cap
      Buffer.from("6,1,2,-,ncfrag=0/4;too long"), // chunk past total
    ];
    let sent = 0;
    for (let i = 0; i < 400; i++) {
      await s.send(bad[i % bad.length]);
      sent++;
      if (i % 32 === 0) await pause(1);
    }
    const junk = Buffer.from([0xff, 0x00, 0x3b, 0x0a, 0x5c, 0x78]); // garbage: legacy, as netconsd
    await s.send(junk);
    await s.send(encodeExtended({ facility: 0, level: 6, seq: 1, tsUs: 0, text: "still here" })[0]);
    sent += 2;
    await waitProcessed(r, sent);
    const report = await r.stop();
    s.close();
    assert.equal(report.packets.malformed, 400);
    assert.equal(report.messages.legacy, 1);
    assert.equal(report.messages.extended, 1);
    assert.equal(report.packets.received, sent);
    assert.ok(report.advice.some((a) => a.rule === "malformed"));
  });

  it("bounds its queues: overflow is counted as queue drops and everything read adds up", async () => {
    const r = await loopbackReceiver({ workers: 1, queueLimit: 4, rcvbuf: 1 << 20 });
    const s = await sender("127.0.0.7");
    const [p] = encodeExtended({ facility: 0, level: 6, seq: 1, tsUs: 0, text: "burst" });
    // Not awaited one by one: the burst sits in the socket buffer and is read in one go.
    await Promise.all(Array.from({ length: 300 }, () => s.send(p)));
    await pause(200);
    const report: ReceiverReport = await r.stop();
    s.close();
    assert.ok(report.drops.queue > 0, "a 4-datagram queue overflows under a 300-datagram burst");
    assert.equal(report.packets.read, report.packets.received + report.drops.queue);
    assert.equal(report.packets.read + report.drops.kernel, 300);
    assert.ok(report.advice.some((a) => a.rule === "queue"));
  });

  it("measures end-to-end latency from the blaster's stamp and writes HdrHistogram text", async () => {
    const r = await loopbackReceiver({ workers: 1 });
    const s = await sender("127.0.0.8");
    for (let seq = 0; seq < 20; seq++) {
      // Intended 5 ms before now: every latency is at least 5000 µs.
      const text = `${formatStamp(0, monotonicUs() - 5000)}message ${seq}`;
      await s.send(encodeExtended({ facility: 0, level: 6, seq, tsUs: 0, text })[0]);
    }
    await waitProcessed(r, 20);
    const report = await r.stop();
    s.close();
    const e2e = report.latencyUs.endToEnd;
    assert.equal(e2e.count, 20);
    assert.equal(report.messages.stamped, 20);
    assert.ok(e2e.p50 >= 5000 && e2e.max >= e2e.p99 && e2e.p99 >= e2e.p50);
    assert.equal(report.latencyUs.queue.count, 20);
    assert.equal(report.latencyUs.processing.count, 20);
    const text = r.percentiles()!.endToEnd;
    assert.match(text, /Value\s+Percentile\s+TotalCount/);
    assert.match(text, /Total count\s+=\s+20\]/);
  });
});

describe("receiver start-up", () => {
  it("refuses a port another SO_REUSEPORT socket already holds, with a clear error", async () => {
    const first = await startReceiver({ bind: "127.0.0.1", port: 0, workers: 1 });
    try {
      await assert.rejects(
        startReceiver({ bind: "127.0.0.1", port: first.port, workers: 1 }),
        /other socket\(s\) are bound to that port with SO_REUSEPORT/,
      );
    } finally {
      await first.stop();
    }
  });
});

describe("receiver options", () => {
  it("rejects a bad option before starting anything, naming the key", async () => {
    // seqWindow 33 used to crash every worker while the run still exited 0.
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ seqWindow: 33 }, /^seqWindow: expected a multiple of 32/],
      [{ queueLimit: "abc" }, /^queueLimit: expected an integer from 1 to \d+, got "abc"/],
      [{ maxHosts: -1 }, /^maxHosts: expected an integer from 1 to \d+, got -1/],
      [{ msgTimeout: "soon" }, /^msgTimeout: expected a duration/],
      [{ queueLimt: 5 }, /^queueLimt: unknown receiver option/],
      [{ output: "nowhere" }, /^output: expected none, print, jsonl:FILE or dir:PATH/],
    ];
    for (const [options, message] of cases) {
      await assert.rejects(
        startReceiver({ bind: "127.0.0.1", port: 0, ...options } as ReceiverOptions),
        (error: Error) => error.name === "ReceiverOptionsError" && message.test(error.message),
        JSON.stringify(options),
      );
    }
  });

  it("takes the flags' forms: k suffixes, durations with units, a sink as text", () => {
    const o = resolveReceiverOptions({ queueLimit: "64k", msgTimeout: "2s", output: "print" });
    assert.equal(o.queueLimit, 64_000);
    assert.equal(o.msgTimeout, 2000);
    assert.deepEqual(o.output, { kind: "print" });
    assert.equal(o.seqWindow, 512, "defaults filled in");
    assert.equal(resolveReceiverOptions({ hostIdle: 1.5 }).hostIdle, 1500, "a number is seconds");
  });
});

describe("receiver host table", () => {
  it("evicts the least recently seen host when --max-hosts are tracked, and idle hosts", async () => {
    const full = await loopbackReceiver({ workers: 1, maxHosts: 2 });
    const hosts = await Promise.all([1, 2, 3, 4, 5].map((i) => sender(`127.0.2.${i}`)));
    for (const h of hosts) {
      await h.send(encodeExtended({ facility: 0, level: 6, seq: 1, tsUs: 0, text: "x" })[0]);
      await pause(2);
    }
    await waitProcessed(full, 5);
    const a = await full.stop();
    assert.equal(a.hosts, 5);
    assert.equal(a.hostsEvicted, 3);
    assert.equal(a.hostsTracked, 2);
    assert.ok(a.advice.some((x) => x.rule === "evictions"));

    const idle = await loopbackReceiver({ workers: 1, hostIdle: "100ms" });
    const h = await sender("127.0.2.9");
    await h.send(encodeExtended({ facility: 0, level: 6, seq: 1, tsUs: 0, text: "x" })[0]);
    await waitProcessed(idle, 1);
    await pause(1000); // ten times the idle limit: the worker's periodic expiry has run
    const b = await idle.stop();
    for (const s of [...hosts, h]) s.close();
    assert.equal(b.hostsEvicted, 1);
    assert.equal(b.hostsTracked, 0);
  });
});
