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
import { workerForAddress } from "../receiver/batch.ts";
import { type ReceiverReport, startReceiver } from "../receiver/receive.ts";
import { loopbackReceiver, pause, sender, waitProcessed } from "./receiver-helpers.ts";

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
    const e8 = encodeExtended(
      {
        facility: 0,
        level: 6,
        seq: 1234,
        tsUs: 5678901234,
        text: "A".repeat(1200),
        userdata: [["k", "v"]],
        sysdata: { cpu: 3, msgid: 7 },
      },
      { release: "6.8.0" },
    );
    assert.equal(e8.length, 2);
    assert.equal(e8[0].length, 1000);
    assert.equal(e8[1].length, 304);
    const datagrams = [
      "6.4.0,6,444,501151268,-;netconsole: network logging started",
      "6,416,1758426,-,ncfrag=0/31;the first chunk,",
      "6,416,1758426,-,ncfrag=16/31; the 2nd chunk.",
      "12,607,22085407756,-;This is a message\n foo=bar\n qux=baz\n",
      "13,434,54928466,-;This is message #1\n msgid=1\n",
      "7,160,424069,-;pci_root PNP0A03:00: host bridge window [io  0x0000-0x0cf7] (ignored)\n SUBSYSTEM=acpi\n DEVICE=+acpi:PNP0A03:00\n",
      "6.11.1-0_fbk0_rc13_509_g30d75cea12f7,13,1822,115075213798,-;netconsole selftest: netcons_gtJHM\n key=value",
      "[   22.671488] raid6: using algorithm avx2x4 gen() 21138 MB/s",
    ].map((t) => Buffer.from(t, "latin1"));
    for (const d of [...datagrams, ...e8]) {
      await s.send(d);
      await pause(2);
    }
    await waitProcessed(r, datagrams.length + e8.length);
    const report = await r.stop();
    s.close();
    assert.equal(report.packets.received, 10);
    assert.equal(report.messages.extended, 7);
    assert.equal(report.messages.legacy, 1);
    assert.equal(report.messages.fragments, 4);
    assert.equal(report.messages.reassembled, 2);
    const lines = readJsonl(file);
    const bySeq = (seq: number) => lines.find((l) => l.seq === seq);
    const base = { source: "127.0.0.1", kind: "extended" };
    const flags = { contStart: false, cont: false, emg: false };
    assert.deepEqual(bySeq(444), {
      ...base,
      seq: 444,
      facility: 0,
      level: 6,
      tsUs: 501151268,
      flags,
      release: "6.4.0",
      text: "netconsole: network logging started",
      dict: {},
    });
    assert.equal(bySeq(416)?.text, "the first chunk, the 2nd chunk.");
    // The decode command's shape: a message that came in several datagrams says how many.
    assert.equal(bySeq(416)?.fragments, 2);
    assert.deepEqual(bySeq(607), {
      ...base,
      seq: 607,
      facility: 1,
      level: 4,
      tsUs: 22085407756,
      flags,
      text: "This is a message",
      dict: { foo: "bar", qux: "baz" },
    });
    assert.deepEqual(bySeq(434)?.dict, { msgid: "1" });
    assert.equal(bySeq(434)?.facility, 1);
    assert.equal(bySeq(434)?.level, 5);
    assert.equal(
      bySeq(160)?.text,
      "pci_root PNP0A03:00: host bridge window [io  0x0000-0x0cf7] (ignored)",
    );
    assert.deepEqual(bySeq(160)?.dict, { SUBSYSTEM: "acpi", DEVICE: "+acpi:PNP0A03:00" });
    assert.equal(bySeq(1822)?.release, "6.11.1-0_fbk0_rc13_509_g30d75cea12f7");
    assert.equal(bySeq(1822)?.text, "netconsole selftest: netcons_gtJHM");
    assert.deepEqual(bySeq(1822)?.dict, { key: "value" });
    assert.deepEqual(bySeq(1234), {
      ...base,
      seq: 1234,
      facility: 0,
      level: 6,
      tsUs: 5678901234,
      flags,
      release: "6.8.0",
      text: "A".repeat(1200),
      dict: { k: "v", cpu: "3", msgid: "7" },
      fragments: 2,
    });
    assert.equal(bySeq(444)?.fragments, undefined);
    const legacy = lines.filter((l) => l.kind === "legacy");
    assert.deepEqual(legacy, [
      {
        source: "127.0.0.1",
        kind: "legacy",
        text: "[   22.671488] raid6: using algorithm avx2x4 gen() 21138 MB/s",
      },
    ]);
    assert.equal(lines.length, 8);
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

    const idle = await loopbackReceiver({ workers: 1, hostIdleMs: 100 });
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
