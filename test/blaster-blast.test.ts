/**
 * runBlast end to end on real loopback sockets and real worker threads: distinct source
 * addresses, decodable datagrams, contiguous seqs, exact counts, impairments equal to the
 * recorded truth, byte-identical replays from a seed, and the safety checks.
 */
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { runBlast } from "../blaster/blast.ts";
import { type BlastOptions, BlastOptionsError } from "../blaster/options.ts";
import { type DecodedExtended, decodePayload } from "../receiver/decode.ts";
import { Reassembler } from "../receiver/reassembly.ts";

interface Captured {
  source: string;
  bytes: Buffer;
}

/** A plain socket that keeps every datagram (with a large buffer so loopback drops nothing). */
async function capture(bind: "127.0.0.1" | "::") {
  const socket = createSocket({
    type: bind === "::" ? "udp6" : "udp4",
    recvBufferSize: 4 << 20,
  });
  const got: Captured[] = [];
  socket.on("message", (bytes, rinfo) => got.push({ source: rinfo.address, bytes }));
  await new Promise<void>((resolve) => socket.bind(0, bind, resolve));
  const port = socket.address().port;
  return {
    port,
    got,
    /** Waits until `n` datagrams arrived (bounded), then closes. */
    async done(n: number) {
      const end = Date.now() + 5000;
      while (got.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 30)); // anything beyond n would show up here
      socket.close();
      return got;
    },
  };
}

async function blastInto(
  bind: "127.0.0.1" | "::",
  options: BlastOptions,
  hooks: Parameters<typeof runBlast>[1] = {},
) {
  const sink = await capture(bind);
  const target = bind === "::" ? `[::1]:${sink.port}` : `127.0.0.1:${sink.port}`;
  const report = await runBlast({ target, ...options }, hooks);
  const got = await sink.done(report.packets.sent);
  return { report, got };
}

/** Decodes and reassembles; returns complete extended messages per source, in arrival order. */
function messagesBySource(got: Captured[]) {
  const reassembler = new Reassembler();
  const out = new Map<string, DecodedExtended[]>();
  for (const g of got) {
    const d = decodePayload(g.bytes);
    assert.equal(d.kind, "extended", g.bytes.toString("latin1"));
    if (d.kind !== "extended") continue;
    const whole = d.fragment ? reassembler.add(g.source, d, 0) : d;
    if (!whole) continue;
    const list = out.get(g.source) ?? [];
    list.push(whole);
    out.set(g.source, list);
  }
  return out;
}

describe("runBlast on loopback", () => {
  it("hosts have distinct sources, every datagram decodes, seqs are contiguous, --count is exact", async () => {
    const { report, got } = await blastInto("127.0.0.1", {
      hosts: 40,
      count: 2000,
      rate: 40_000,
      seed: 11,
      sysdata: { msgid: true },
    });
    assert.equal(report.messages, 2000);
    assert.equal(report.packets.errors, 0);
    assert.equal(got.length, report.packets.sent);
    assert.ok(report.fragmentsSent > 0, "the realistic corpus fragments");
    const bySource = messagesBySource(got);
    assert.equal(bySource.size, 40);
    for (const source of bySource.keys()) assert.match(source, /^127\.0\.0\.\d+$/);
    let total = 0;
    for (const list of bySource.values()) {
      total += list.length;
      assert.equal(list.length, 50); // round-robin over the hosts
      for (let i = 1; i < list.length; i++) assert.equal(list[i].seq, list[i - 1].seq + 1);
      const msgids = list.map((m) => Number(m.dict?.find(([k]) => k === "msgid")?.[1]));
      assert.deepEqual(
        msgids,
        list.map((_, i) => i + 1),
      );
    }
    assert.equal(total, 2000);
    assert.equal(report.expected.messagesDelivered, 2000);
    assert.ok(report.latenessUs && report.latenessUs.count === report.datagrams);
  });

  it("reaches a dual-stack IPv6 listener from distinct ::ffff:127.x.y.z sources, 2 workers", async () => {
    const { report, got } = await blastInto("::", {
      hosts: 9,
      workers: 2,
      count: 900,
      rate: 30_000,
      seed: 12,
    });
    assert.equal(report.workers, 2);
    assert.equal(report.messages, 900);
    assert.match(report.target, /^\[::ffff:127\.0\.0\.1\]:\d+$/);
    const bySource = messagesBySource(got);
    assert.deepEqual(
      [...bySource.keys()].sort(),
      Array.from({ length: 9 }, (_, i) => `::ffff:127.0.0.${i + 1}`).sort(),
    );
    for (const list of bySource.values()) {
      assert.equal(list.length, 100);
      for (let i = 1; i < list.length; i++) assert.equal(list[i].seq, list[i - 1].seq + 1);
    }
  });

  it("impairments: what arrives differs from the unimpaired run exactly as the truth says", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ncb-blast-"));
    const truthFile = join(dir, "truth.jsonl");
    const common: BlastOptions = {
      hosts: 8,
      count: 1200,
      rate: 20_000,
      seed: 2026,
      size: { kind: "range", min: 50, max: 2000 },
    };
    const base = await blastInto("127.0.0.1", common);
    const hit = await blastInto("127.0.0.1", {
      ...common,
      loss: 0.05,
      duplicate: 0.05,
      reorder: 0.1,
      reorderDepth: 4,
      truth: truthFile,
    });
    const r = hit.report;
    assert.ok(r.injected.lost > 0 && r.injected.duplicated > 0 && r.injected.reordered > 0);
    assert.equal(r.packets.sent, r.datagrams - r.injected.lost + r.injected.duplicated);
    assert.equal(hit.got.length, r.packets.sent);

    // Datagram identity: (source, seq, fragment index), the fragment index from the baseline.
    const keyOf = (g: Captured) => {
      const d = decodePayload(g.bytes) as DecodedExtended;
      return `${g.source}/${d.seq}/${d.fragment?.offset ?? 0}`;
    };
    const baseOrder = new Map<string, number>();
    base.got.forEach((g, i) => {
      baseOrder.set(keyOf(g), i);
    });
    const seen = new Map<string, number>();
    for (const g of hit.got) {
      const k = keyOf(g);
      assert.ok(baseOrder.has(k), `unexpected datagram ${k}`);
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
    const lost = [...baseOrder.keys()].filter((k) => !seen.has(k));
    const duplicated = [...seen].filter(([, n]) => n === 2);
    assert.equal(lost.length, r.injected.lost);
    assert.equal(duplicated.length, r.injected.duplicated);
    // Reordered: went out after a later datagram of its own host.
    const latest = new Map<string, number>();
    const counted = new Set<string>();
    let reordered = 0;
    for (const g of hit.got) {
      const k = keyOf(g);
      const position = baseOrder.get(k)!;
      const top = latest.get(g.source) ?? -1;
      if (position < top && !counted.has(k)) {
        reordered++;
        counted.add(k);
      }
      if (position > top) latest.set(g.source, position);
    }
    assert.equal(reordered, r.injected.reordered);

    // The truth file lists the same datagrams.
    const lines = readFileSync(truthFile, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(lines[0].kind, "run");
    assert.equal(lines[0].seed, 2026);
    const hostLines = lines.slice(1);
    assert.equal(hostLines.length, 8);
    const offsetsOf = new Map<string, number[]>();
    for (const k of baseOrder.keys()) {
      const [source, seq, offset] = k.split("/");
      const list = offsetsOf.get(`${source}/${seq}`) ?? [];
      list.push(Number(offset));
      offsetsOf.set(`${source}/${seq}`, list);
    }
    const truthLost: string[] = [];
    for (const h of hostLines) {
      assert.equal(h.lastSeq - h.firstSeq + 1, h.messages);
      for (const [seq, fragment] of h.lost) {
        const offsets = offsetsOf.get(`${h.source}/${seq}`)!.sort((a, b) => a - b);
        truthLost.push(`${h.source}/${seq}/${offsets[fragment]}`);
      }
    }
    assert.deepEqual(truthLost.sort(), lost.sort());
    const sum = (kind: string) => hostLines.reduce((n, h) => n + h[kind].length, 0);
    assert.equal(sum("duplicated"), r.injected.duplicated);
    assert.equal(sum("reordered"), r.injected.reordered);
  });

  it("the same seed gives the same bytes (without the time stamp), another seed others", async () => {
    const run = async (seed: number) => {
      const { got } = await blastInto("127.0.0.1", {
        hosts: 6,
        workers: 2,
        count: 600,
        rate: 30_000,
        seed,
        stamp: false,
        format: "mixed",
        size: { kind: "range", min: 30, max: 1800 },
        releasePrefix: true,
        sysdata: { cpu: true, taskname: true, msgid: true },
      });
      const bySource = new Map<string, string[]>();
      for (const g of got) {
        const list = bySource.get(g.source) ?? [];
        list.push(g.bytes.toString("base64"));
        bySource.set(g.source, list);
      }
      return Object.fromEntries([...bySource].sort());
    };
    const a = await run(77);
    const b = await run(77);
    const c = await run(78);
    assert.equal(Object.keys(a).length, 6);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it("mainThread: the same datagrams as from a worker, sent from the calling thread", async () => {
    const run = async (mainThread: boolean) => {
      const cpuBefore = process.threadCpuUsage();
      const { report, got } = await blastInto(
        "127.0.0.1",
        { hosts: 5, count: 3000, seed: 9, stamp: false, format: "mixed", size: "30-1500" },
        { mainThread },
      );
      const cpu = process.threadCpuUsage(cpuBefore);
      const bySource = new Map<string, string[]>();
      for (const g of got)
        bySource.set(g.source, [...(bySource.get(g.source) ?? []), g.bytes.toString("base64")]);
      return {
        report,
        thisThreadUs: cpu.user + cpu.system,
        bytes: Object.fromEntries([...bySource].sort()),
      };
    };
    const inline = await run(true);
    const worker = await run(false);
    assert.equal(inline.report.mainThread, true);
    assert.equal(worker.report.mainThread, false);
    assert.equal(inline.report.messages, 3000);
    assert.equal(Object.keys(inline.bytes).length, 5);
    assert.deepEqual(inline.bytes, worker.bytes);
    // The send loop's CPU was spent on this thread.
    assert.ok(
      inline.thisThreadUs >= inline.report.cpu.workerUs,
      `${inline.thisThreadUs} < ${inline.report.cpu.workerUs}`,
    );
    await assert.rejects(
      runBlast({ target: "127.0.0.1:1514", hosts: 4, workers: 2, count: 1 }, { mainThread: true }),
      (e: Error) => e instanceof BlastOptionsError && /main thread needs workers 1/.test(e.message),
    );
  });

  it("storm: a share of hosts panics at once, then goes silent", async () => {
    const { report, got } = await blastInto("127.0.0.1", {
      hosts: 10,
      duration: "600ms",
      stormAt: "100ms",
      storm: 0.5,
      rate: 2000,
      seed: 5,
    });
    assert.ok(report.stormMessages > 0);
    const bySource = messagesBySource(got);
    const panicked = [...bySource].filter(([, list]) =>
      list.some((m) => m.text?.includes("Kernel panic - not syncing")),
    );
    assert.ok(panicked.length > 0);
    for (const [, list] of panicked) {
      // The panic script ends the host's log.
      assert.match(list[list.length - 1].text!.toString(), /end Kernel panic/);
    }
  });

  it("counts send errors instead of failing (nothing listening: ECONNREFUSED)", async () => {
    const sink = await capture("127.0.0.1");
    const port = sink.port;
    await sink.done(0); // closed: the port now refuses
    const report = await runBlast({ target: `127.0.0.1:${port}`, hosts: 2, count: 400, seed: 1 });
    assert.equal(report.messages, 400);
    assert.ok(report.packets.errors > 0);
    assert.equal(report.packets.errorsByCode.ECONNREFUSED, report.packets.errors);
  });

  it("stops cleanly on abort and still reports", async () => {
    const sink = await capture("127.0.0.1");
    const controller = new AbortController();
    // Abort once traffic flows (startup time varies with the machine's load).
    const poll = setInterval(() => {
      if (sink.got.length > 0) {
        clearInterval(poll);
        controller.abort();
      }
    }, 20);
    const report = await runBlast(
      { target: `127.0.0.1:${sink.port}`, hosts: 4, duration: "20s", rate: 5000, seed: 3 },
      { signal: controller.signal },
    );
    await sink.done(report.packets.sent);
    assert.equal(report.stopped, "signal");
    assert.ok(report.messages > 0);
    assert.ok(report.durationMs < 10_000);
  });

  it("refuses a non-loopback target without allowRemote, and too many sockets for the fd limit", async () => {
    await assert.rejects(
      runBlast({ target: "192.0.2.1:1514", count: 1 }),
      (e: Error) => e instanceof BlastOptionsError && /--allow-remote/.test(e.message),
    );
    await assert.rejects(
      runBlast({ target: "127.0.0.1:1514", hosts: 5_000_000, count: 5_000_000 }),
      (e: Error) =>
        e instanceof BlastOptionsError &&
        /open-file limit/.test(e.message) &&
        /ulimit -n/.test(e.message),
    );
  });
});
