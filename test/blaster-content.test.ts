/**
 * Simulated hosts and their content, without sockets: the fast in-place writer produces exactly
 * the codec's bytes, every datagram decodes, fragments reassemble, seqs are contiguous per host,
 * and a million hosts fit in tens of bytes each.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ContentOptions, NO_SYSDATA } from "../blaster/content.ts";
import { HostTable } from "../blaster/host-table.ts";
import { datagramList, MessageWriter } from "../blaster/message-writer.ts";
import { formatStamp, parseStamp } from "../blaster/stamp.ts";
import { decodePayload } from "../receiver/decode.ts";
import { Reassembler } from "../receiver/reassembly.ts";

function options(over: Partial<ContentOptions> = {}): ContentOptions {
  return {
    seed: 12345,
    hosts: 7,
    format: "extended",
    size: { kind: "realistic" },
    stamp: true,
    releasePrefix: false,
    sysdata: NO_SYSDATA,
    userdata: [],
    caller: false,
    startSeq: "random",
    stormShare: 0,
    ...over,
  };
}

/** Writes `messages` messages round-robin over the hosts; returns every datagram (a copy). */
function generate(o: ContentOptions, messages: number, reference = false, panicAll = false) {
  const hosts = new HostTable(o, 0, 1);
  if (panicAll) for (let j = 0; j < hosts.count; j++) hosts.startPanic(j);
  const writer = new MessageWriter(o, reference);
  const slab = Buffer.alloc(1 << 20);
  const list = datagramList(512);
  const out: { host: number; bytes: Buffer }[] = [];
  for (let i = 0; i < messages; i++) {
    const j = i % hosts.count;
    list.count = 0;
    const end = writer.write(hosts, j, 1_700_000_000 + i * 20, slab, 0, list);
    assert.ok(end <= slab.length);
    for (let d = 0; d < list.count; d++) {
      out.push({
        host: j,
        bytes: Buffer.from(slab.subarray(list.offset[d], list.offset[d] + list.length[d])),
      });
    }
  }
  return out;
}

const VARIANTS: [string, Partial<ContentOptions>][] = [
  ["realistic extended", {}],
  [
    "release prefix, caller, all sysdata, userdata",
    {
      releasePrefix: true,
      caller: true,
      sysdata: { cpu: true, taskname: true, release: true, msgid: true },
      userdata: [
        ["role", "web"],
        ["empty", ""],
        ["rack", "b12"],
      ],
    },
  ],
  ["fixed 64 bytes", { size: { kind: "fixed", bytes: 64 } }],
  [
    "fixed 3000 bytes (fragments)",
    { size: { kind: "fixed", bytes: 3000 }, sysdata: { ...NO_SYSDATA, msgid: true } },
  ],
  ["range 20-2500", { size: { kind: "range", min: 20, max: 2500 }, caller: true }],
  ["legacy realistic", { format: "legacy" }],
  ["legacy range 10-2200", { format: "legacy", size: { kind: "range", min: 10, max: 2200 } }],
  ["mixed, no stamp", { format: "mixed", stamp: false, startSeq: 0 }],
];

describe("content writer", () => {
  for (const [name, over] of VARIANTS) {
    it(`writes exactly the codec's bytes: ${name}`, () => {
      const o = options(over);
      const fast = generate(o, 3000);
      const reference = generate(o, 3000, true);
      assert.equal(fast.length, reference.length);
      for (let i = 0; i < fast.length; i++) {
        assert.ok(
          fast[i].bytes.equals(reference[i].bytes),
          `datagram ${i}:\n${fast[i].bytes.toString("latin1")}\n!=\n${reference[i].bytes.toString("latin1")}`,
        );
      }
    });
  }

  it("panics (storm scripts) are written exactly like the codec's too", () => {
    const o = options({ releasePrefix: true, caller: true, sysdata: { ...NO_SYSDATA, cpu: true } });
    const fast = generate(o, 7 * 60, false, true);
    const reference = generate(o, 7 * 60, true, true);
    assert.deepEqual(
      fast.map((d) => d.bytes.toString("latin1")),
      reference.map((d) => d.bytes.toString("latin1")),
    );
    assert.ok(fast.some((d) => d.bytes.includes("Kernel panic - not syncing")));
  });

  it("produces what a receiver must handle: every datagram decodes, fragments reassemble", () => {
    const o = options({ hosts: 20, sysdata: { ...NO_SYSDATA, msgid: true } });
    const datagrams = generate(o, 20_000);
    const reassembler = new Reassembler();
    const seqs = new Map<number, number[]>();
    let fragments = 0;
    let cont = 0;
    let escaped = 0;
    let dict = 0;
    for (const d of datagrams) {
      assert.ok(d.bytes.length <= 1000);
      const decoded = decodePayload(d.bytes);
      assert.equal(decoded.kind, "extended", d.bytes.toString("latin1"));
      if (decoded.kind !== "extended") continue;
      let whole = decoded;
      if (decoded.fragment) {
        fragments++;
        const done = reassembler.add(String(d.host), decoded, 0);
        if (!done) continue;
        whole = done;
      }
      const list = seqs.get(d.host) ?? [];
      list.push(whole.seq);
      seqs.set(d.host, list);
      if (whole.flags.contStart) cont++;
      if (whole.data.includes("\\x")) escaped++;
      if (whole.dict?.some(([k]) => k === "SUBSYSTEM")) dict++;
      // The stamp is blaster/stamp.ts's format, with this host's index.
      const stamp = parseStamp(whole.text!);
      assert.ok(stamp && stamp.host === d.host, whole.text?.toString("latin1"));
      assert.ok(
        whole.text!.toString("latin1").startsWith(formatStamp(stamp.host, stamp.intendedUs)),
      );
    }
    assert.equal(reassembler.counters.incomplete, 0);
    assert.ok(fragments > 0, "long records fragment");
    assert.ok(cont > 0 && escaped > 0 && dict > 0, `cont ${cont} escaped ${escaped} dict ${dict}`);
    // Per host: contiguous seqs from a seeded start.
    assert.equal(seqs.size, 20);
    for (const list of seqs.values()) {
      for (let i = 1; i < list.length; i++) assert.equal(list[i], list[i - 1] + 1);
    }
  });

  it("legacy lines decode as legacy, with the time prefix and the stamp", () => {
    const datagrams = generate(options({ format: "legacy" }), 2000);
    for (const d of datagrams) {
      const decoded = decodePayload(d.bytes);
      assert.equal(decoded.kind, "legacy", d.bytes.toString("latin1"));
    }
    const first = datagrams[0].bytes.toString("latin1");
    assert.match(first, /^\[ *\d+\.\d{6}\] ncb1:0:[0-9a-z]+ /);
    // A record of several lines prints the time prefix before each of them.
    const more = generate(options({ format: "legacy", hosts: 20 }), 20_000);
    const multi = more.filter((d) => d.bytes.includes("possible circular locking"));
    assert.ok(multi.length > 0);
    for (const d of multi) {
      const lines = d.bytes.toString("latin1").split("\n").slice(0, -1);
      assert.ok(lines.length > 5);
      for (const line of lines) assert.match(line, /^\[ *\d+\.\d{6}\] /);
      assert.equal(lines.filter((l) => l.includes("ncb1:")).length, 1);
    }
    // Continuation pieces (pr_cont) are printed on their line: one datagram, one line.
    const memory = more.filter((d) => d.bytes.includes("] ncb1:") && d.bytes.includes(" Memory: "));
    assert.ok(memory.length > 0);
    for (const d of memory) {
      assert.match(
        d.bytes.toString("latin1"),
        /Memory: 16302468K\/16776692K .* 0K cma-reserved\)\n$/,
      );
    }
    assert.ok(!more.some((d) => /^16302468K/.test(d.bytes.toString("latin1"))));
  });

  it("fixed sizes give datagrams of exactly that many bytes", () => {
    for (const bytes of [64, 200, 1000]) {
      for (const format of ["extended", "legacy"] as const) {
        const datagrams = generate(options({ size: { kind: "fixed", bytes }, format }), 500);
        for (const d of datagrams) assert.equal(d.bytes.length, bytes, `${format} ${bytes}`);
      }
    }
  });

  it("keeps a million hosts in 21 bytes each (25 when counting datagrams)", () => {
    const perHost = (countDatagrams: boolean) => {
      const hosts = new HostTable(options({ hosts: 1_000_000 }), 0, 1, countDatagrams);
      assert.equal(hosts.count, 1_000_000);
      let bytes = 0;
      for (const value of Object.values(hosts)) {
        if (ArrayBuffer.isView(value)) bytes += value.byteLength;
      }
      return bytes / hosts.count;
    };
    assert.equal(perHost(false), 21);
    assert.equal(perHost(true), 25);
  });

  it("is reproducible from the seed and independent of sharding", () => {
    const o = options({ hosts: 6, stamp: false });
    const whole = new HostTable(o, 0, 1);
    const shard = new HostTable(o, 1, 3); // hosts 1 and 4
    const writer = new MessageWriter(o);
    const slab = Buffer.alloc(1 << 16);
    const list = datagramList(128);
    const textOf = (t: HostTable, j: number) => {
      list.count = 0;
      const end = writer.write(t, j, 0, slab, 0, list);
      return slab.toString("latin1", 0, end);
    };
    for (let i = 0; i < 50; i++) {
      assert.equal(textOf(whole, 4), textOf(shard, 1));
    }
    const other = new HostTable({ ...o, seed: 999 }, 0, 1);
    assert.notEqual(textOf(whole, 0), textOf(other, 0));
  });
});
