import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  encodeExtended,
  encodeLegacy,
  escapeKernel,
  type KernelRecord,
  legacyTimePrefix,
} from "../blaster/codec.ts";
import { type DecodedExtended, decodePayload, parseData } from "../receiver/decode.ts";
import {
  CHUNK_OVERHEAD_BYTES,
  cover,
  PENDING_OVERHEAD_BYTES,
  Reassembler,
} from "../receiver/reassembly.ts";

const b = (s: string) => Buffer.from(s, "latin1");

function extended(payload: Buffer | string): DecodedExtended {
  const d = decodePayload(typeof payload === "string" ? b(payload) : payload);
  assert.equal(d.kind, "extended", `expected extended, got ${JSON.stringify(d)}`);
  return d as DecodedExtended;
}

/** Decodes every payload of one record and reassembles them into one message. */
function roundTrip(payloads: Buffer[], maxMessageBytes = 1 << 20): DecodedExtended {
  const r = new Reassembler({ maxMessageBytes, maxPendingBytesPerSource: 1 << 22 });
  let whole: DecodedExtended | null = null;
  for (const p of payloads) {
    const d = decodePayload(p, { maxMessageBytes });
    assert.equal(
      d.kind,
      "extended",
      `fragment did not decode: ${JSON.stringify(d)} from ${p.toString("latin1")}`,
    );
    whole = r.add("h", d as DecodedExtended, 0);
  }
  assert.ok(whole, "message did not complete");
  return whole;
}

describe("wire-format test vectors, both directions", () => {
  it("E1 release prefix", () => {
    const wire = "6.4.0,6,444,501151268,-;netconsole: network logging started";
    const d = extended(wire);
    assert.equal(d.release, "6.4.0");
    assert.deepEqual([d.facility, d.level, d.seq, d.tsUs], [0, 6, 444, 501151268]);
    assert.equal(d.text?.toString(), "netconsole: network logging started");
    // The kernel always ends the text with LF; the vector as printed in netconsole.rst has none.
    const enc = encodeExtended(
      {
        facility: 0,
        level: 6,
        seq: 444,
        tsUs: 501151268,
        text: "netconsole: network logging started",
      },
      { release: "6.4.0" },
    );
    assert.deepEqual(enc, [b(`${wire}\n`)]);
  });

  it("E2 fragments with a small chunk size", () => {
    const f1 = "6,416,1758426,-,ncfrag=0/31;the first chunk,";
    const f2 = "6,416,1758426,-,ncfrag=16/31; the 2nd chunk.";
    const d1 = extended(f1);
    assert.deepEqual(d1.fragment, { offset: 0, total: 31 });
    const whole = roundTrip([b(f1), b(f2)]);
    assert.equal(whole.text?.toString(), "the first chunk, the 2nd chunk.");
    assert.equal(whole.seq, 416);
  });

  it("E3 userdata", () => {
    const wire = "12,607,22085407756,-;This is a message\n foo=bar\n qux=baz\n";
    const d = extended(wire);
    assert.deepEqual([d.facility, d.level], [1, 4]);
    assert.equal(d.text?.toString(), "This is a message");
    assert.deepEqual(d.dict, [
      ["foo", "bar"],
      ["qux", "baz"],
    ]);
    const enc = encodeExtended({
      facility: 1,
      level: 4,
      seq: 607,
      tsUs: 22085407756,
      text: "This is a message",
      userdata: [
        ["foo", "bar"],
        ["qux", "baz"],
      ],
    });
    assert.deepEqual(enc, [b(wire)]);
  });

  it("E4 sysdata, in the kernel's order", () => {
    const wire = "13,434,54928466,-;This is message #1\n msgid=1\n";
    assert.deepEqual(
      encodeExtended({
        facility: 1,
        level: 5,
        seq: 434,
        tsUs: 54928466,
        text: "This is message #1",
        sysdata: { msgid: 1 },
      }),
      [b(wire)],
    );
    assert.deepEqual(extended(wire).dict, [["msgid", "1"]]);
    const all = encodeExtended({
      facility: 1,
      level: 5,
      seq: 1,
      tsUs: 2,
      text: "x",
      sysdata: { msgid: 9, release: "6.14.0-rc6-01219-g3c027fbd941d", taskname: "echo", cpu: 42 },
    });
    assert.equal(
      all[0].toString(),
      "13,1,2,-;x\n cpu=42\n taskname=echo\n release=6.14.0-rc6-01219-g3c027fbd941d\n msgid=9\n",
    );
  });

  it("E5 dictionary", () => {
    const wire =
      "7,160,424069,-;pci_root PNP0A03:00: host bridge window [io  0x0000-0x0cf7] (ignored)\n SUBSYSTEM=acpi\n DEVICE=+acpi:PNP0A03:00\n";
    const record: KernelRecord = {
      facility: 0,
      level: 7,
      seq: 160,
      tsUs: 424069,
      text: "pci_root PNP0A03:00: host bridge window [io  0x0000-0x0cf7] (ignored)",
      dict: [
        ["SUBSYSTEM", "acpi"],
        ["DEVICE", "+acpi:PNP0A03:00"],
      ],
    };
    assert.deepEqual(encodeExtended(record), [b(wire)]);
    const d = extended(wire);
    assert.deepEqual(d.dict, record.dict);
    assert.equal(d.text?.toString(), record.text);
  });

  it("E6 kernel selftest captures", () => {
    const d = extended(
      "6.11.1-0_fbk0_rc13_509_g30d75cea12f7,13,1822,115075213798,-;netconsole selftest: netcons_gtJHM\n key=value",
    );
    assert.equal(d.release, "6.11.1-0_fbk0_rc13_509_g30d75cea12f7");
    assert.deepEqual(d.dict, [["key", "value"]]);
    // A 1135-byte body: the first prefix is 33 bytes, so the first chunk is 967 bytes.
    const text = "y".repeat(1134);
    const frags = encodeExtended({ facility: 1, level: 5, seq: 468, tsUs: 514729715, text });
    assert.equal(frags.length, 2);
    assert.ok(frags[0].toString().startsWith("13,468,514729715,-,ncfrag=0/1135;"));
    assert.equal(frags[0].length, 1000);
    assert.ok(frags[1].toString().startsWith("13,468,514729715,-,ncfrag=967/1135;"));
    assert.equal(roundTrip(frags).text?.toString(), text);
  });

  it("E7 legacy", () => {
    const line = "[   22.671488] raid6: using algorithm avx2x4 gen() 21138 MB/s";
    const d = decodePayload(b(line));
    assert.equal(d.kind, "legacy");
    assert.deepEqual(
      encodeLegacy("raid6: using algorithm avx2x4 gen() 21138 MB/s", { tsUs: 22_671_488 }),
      [b(`${line}\n`)],
    );
  });

  it("E8 the newest fragmentation algorithm, byte for byte", () => {
    const frags = encodeExtended(
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
    assert.deepEqual(frags, [
      b(`6.8.0,6,1234,5678901234,-,ncfrag=0/1222;${"A".repeat(960)}`),
      b(`6.8.0,6,1234,5678901234,-,ncfrag=960/1222;${"A".repeat(240)}\n k=v\n cpu=3\n msgid=7\n`),
    ]);
    assert.equal(frags[0].length, 1000);
    assert.equal(frags[1].length, 304);
    const whole = roundTrip(frags);
    assert.equal(whole.release, "6.8.0");
    assert.equal(whole.text?.toString(), "A".repeat(1200));
    assert.deepEqual(whole.dict, [
      ["k", "v"],
      ["cpu", "3"],
      ["msgid", "7"],
    ]);
  });
});

describe("encoding details", () => {
  it("escapes like the kernel: control, >= 0x7f and backslash as lower-case \\xNN", () => {
    assert.equal(escapeKernel(Buffer.from("é")).toString(), "\\xc3\\xa9");
    assert.equal(
      escapeKernel(Buffer.from("a\\b\nc\x7f\x1f ~")).toString(),
      "a\\x5cb\\x0ac\\x7f\\x1f ~",
    );
    const [p] = encodeExtended({
      facility: 0,
      level: 4,
      seq: 1,
      tsUs: 1,
      text: "line1\nline2",
      dict: [["DEVICE", "n\t8"]],
    });
    assert.equal(p.toString(), "4,1,1,-;line1\\x0aline2\n DEVICE=n\\x098\n");
  });

  it("writes the continuation flag and caller id", () => {
    const [p] = encodeExtended({
      facility: 0,
      level: 6,
      seq: 9,
      tsUs: 10,
      cont: true,
      caller: "T1234",
      text: "x",
    });
    assert.equal(p.toString(), "6,9,10,c,caller=T1234;x\n");
    const d = extended(p);
    assert.equal(d.caller, "T1234");
    assert.equal(d.flags.contStart, true);
  });

  it("skips empty userdata values and empty dictionary values", () => {
    const [p] = encodeExtended({
      facility: 0,
      level: 6,
      seq: 1,
      tsUs: 1,
      text: "x",
      userdata: [
        ["a", ""],
        ["b", "1"],
      ],
      dict: [["SUBSYSTEM", ""]],
    });
    assert.equal(p.toString(), "6,1,1,-;x\n b=1\n");
  });

  it("legacy: time prefix and slices of at most chunkSize bytes cut anywhere", () => {
    assert.equal(legacyTimePrefix(5), "[    0.000005] ");
    assert.equal(legacyTimePrefix(123456_789012), "[123456.789012] ");
    const slices = encodeLegacy("z".repeat(2500), { tsUs: 1_000_000 });
    assert.deepEqual(
      slices.map((s) => s.length),
      [1000, 1000, 516],
    );
    assert.equal(Buffer.concat(slices).toString(), `[    1.000000] ${"z".repeat(2500)}\n`);
  });

  it("every chunk size from the smallest feasible to 1000 round-trips the same record", () => {
    const record: KernelRecord = {
      facility: 3,
      level: 2,
      seq: 77,
      tsUs: 123456789,
      caller: "C1",
      text: Buffer.from(Array.from({ length: 600 }, (_, i) => i % 256)),
      dict: [["SUBSYSTEM", "usb"]],
      userdata: [["role", "db"]],
      sysdata: { cpu: 1, taskname: "kworker/0:1", release: "6.16.0", msgid: 12 },
    };
    for (let chunk = 64; chunk <= 1000; chunk++) {
      const frags = encodeExtended(record, { chunkSize: chunk, release: "6.16.0" });
      for (const f of frags) assert.ok(f.length <= chunk, `chunk ${chunk}: ${f.length}`);
      const whole = roundTrip(frags);
      assert.deepEqual(whole.text, Buffer.from(record.text as Uint8Array));
      assert.equal(whole.dict?.length, 6);
    }
  });
});

/** Keys as the kernel and configfs produce them: no `=`, no LF, no leading space. */
const keyArb = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.-]{0,20}$/);
/** Printable values without LF, as userdata must be (it is not escaped). */
const plainValueArb = fc.stringMatching(/^[\x21-\x7e][\x20-\x7e]{0,40}$/);

const recordArb = fc.record({
  facility: fc.integer({ min: 0, max: 31 }),
  level: fc.integer({ min: 0, max: 7 }),
  seq: fc.maxSafeNat(),
  tsUs: fc.maxSafeNat(),
  cont: fc.boolean(),
  text: fc.uint8Array({ maxLength: 3000 }),
  dict: fc.array(fc.tuple(keyArb, fc.string({ minLength: 1, maxLength: 40 })), { maxLength: 3 }),
  userdata: fc.array(fc.tuple(keyArb, plainValueArb), { maxLength: 4 }),
  release: fc.option(fc.stringMatching(/^[1-9]\.[0-9]{1,2}\.[0-9][a-z0-9_-]{0,20}$/), {
    nil: undefined,
  }),
  chunkSize: fc.integer({ min: 80, max: 1000 }),
});

describe("property: encode then decode gives back the record", () => {
  it("for random bytes (every value), dictionaries, userdata, chunk sizes, with and without release", () => {
    fc.assert(
      fc.property(recordArb, (r) => {
        const record: KernelRecord = { ...r };
        const frags = encodeExtended(record, { release: r.release, chunkSize: r.chunkSize });
        for (const f of frags) assert.ok(f.length <= r.chunkSize);
        const whole = roundTrip(frags);
        assert.deepEqual(Buffer.from(whole.text!), Buffer.from(r.text));
        assert.deepEqual(
          [whole.facility, whole.level, whole.seq, whole.tsUs, whole.flags.contStart],
          [r.facility, r.level, r.seq, r.tsUs, r.cont],
        );
        assert.equal(whole.release, r.release);
        assert.deepEqual(whole.dict, [...r.dict, ...r.userdata]);
      }),
      { numRuns: 300 },
    );
  });

  it("fragments delivered in every order reassemble to the same record", () => {
    const text = Buffer.from(
      Array.from({ length: 700 }, (_, i) => 0x21 + (i % 90)).filter((c) => c !== 0x5c),
    );
    const frags = encodeExtended(
      { facility: 0, level: 6, seq: 5, tsUs: 6, text },
      { chunkSize: 180 },
    );
    assert.equal(frags.length, 5);
    const permutations = (xs: number[]): number[][] =>
      xs.length <= 1
        ? [xs]
        : xs.flatMap((x, i) =>
            permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]),
          );
    const orders = permutations([0, 1, 2, 3, 4]);
    assert.equal(orders.length, 120);
    for (const order of orders) {
      assert.deepEqual(Buffer.from(roundTrip(order.map((i) => frags[i])).text!), text);
    }
  });

  it("duplicated and overlapping fragments still give the same record, duplicates counted", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 12 }),
        fc.integer({ min: 0, max: 1000 }),
        (extra, seed) => {
          const text = Buffer.from(`${"q".repeat(900)}-${seed}`);
          const frags = encodeExtended(
            { facility: 0, level: 6, seq: 9, tsUs: 6, text },
            { chunkSize: 200 },
          );
          const r = new Reassembler();
          let whole: DecodedExtended | null = null;
          const order = [...extra.filter((i) => i < frags.length - 1), ...frags.map((_, i) => i)];
          for (const i of order)
            whole = r.add("h", decodePayload(frags[i]) as DecodedExtended, 0) ?? whole;
          assert.deepEqual(whole?.text, text);
          assert.equal(r.counters.reassembled, 1);
          assert.equal(r.counters.duplicateFragments, order.length - frags.length);
        },
      ),
    );
  });

  it("range coverage counts only new bytes", () => {
    const ranges: number[] = [];
    assert.equal(cover(ranges, 10, 20), 10);
    assert.equal(cover(ranges, 0, 5), 5);
    assert.equal(cover(ranges, 3, 12), 5);
    assert.deepEqual(ranges, [0, 20]);
    assert.equal(cover(ranges, 30, 40), 10);
    assert.equal(cover(ranges, 0, 40), 10);
    assert.deepEqual(ranges, [0, 40]);
  });
});

describe("decoding like ncrx", () => {
  it("accepts C base-0 numbers, missing fields and unknown header fields", () => {
    const d = extended("0x11,0x10,010,-,future=1,caller=C3;hi");
    assert.deepEqual([d.facility, d.level, d.seq, d.tsUs, d.caller], [2, 1, 16, 8, "C3"]);
    const short = extended("5;x");
    assert.deepEqual([short.level, short.seq, short.tsUs, short.text?.toString()], [5, 0, 0, "x"]);
  });

  it("tolerates a record that lost its trailing LF (old kernels' 1000-byte scnprintf)", () => {
    const [p] = encodeExtended({
      facility: 0,
      level: 6,
      seq: 1,
      tsUs: 1,
      text: "t".repeat(900),
      userdata: [["k", "v".repeat(60)]],
    });
    const cut = p.subarray(0, p.length - 1);
    assert.deepEqual(extended(cut).dict, [["k", "v".repeat(60)]]);
    assert.equal(extended("6,1,1,-;no newline at all").text?.toString(), "no newline at all");
  });

  it("classifies as legacy what the header does not parse, with a reason", () => {
    for (const [payload, reason] of [
      ["plain text", "no ';'"],
      ["256,1,1,-;x", "priority"],
      ["6,abc,1,-;x", "sequence"],
      ["6,1,1x,-;x", "timestamp"],
      ["[   22.6] a; b", "release prefix with no header"],
      ["6,1,1,-,ncfrag=0/10,ncfrag=0/10;x", "twice"],
      [`${"1".repeat(1024)};x`, "header of 1024"],
    ] as const) {
      const d = decodePayload(b(payload));
      assert.equal(d.kind, "legacy", payload);
      assert.match((d as { reason: string }).reason, new RegExp(reason.replace(/[[\]]/g, "\\$&")));
    }
  });

  it("marks emergency messages", () => {
    assert.equal(extended("6,1,1,-,ncemg=1;x").flags.emg, true);
  });

  it("parses dictionary data split on the first '='", () => {
    assert.deepEqual(parseData(b("t\n a=b=c\n noequals\n\n")).dict, [
      ["a", "b=c"],
      ["noequals", ""],
    ]);
  });
});

describe("hostile payloads", () => {
  it("empty, 1 MiB, binary noise: classified without throwing", () => {
    assert.equal(decodePayload(Buffer.alloc(0)).kind, "malformed");
    const big = Buffer.alloc(1 << 20, 0x41);
    big.write("6,1,1,-;", 0);
    assert.equal(decodePayload(big).kind, "extended");
    assert.equal(decodePayload(Buffer.alloc(1 << 20, 0x3b)).kind, "extended");
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1500 }), (noise) => {
        const d = decodePayload(noise);
        assert.ok(["extended", "legacy", "malformed"].includes(d.kind));
      }),
      { numRuns: 2000 },
    );
  });

  it("refuses fragments out of bounds and totals of 2^53", () => {
    assert.equal(decodePayload(b("6,1,1,-,ncfrag=40/31;x")).kind, "malformed");
    assert.equal(decodePayload(b("6,1,1,-,ncfrag=30/31;xyz")).kind, "malformed");
    assert.equal(decodePayload(b(`6,1,1,-,ncfrag=0/${2 ** 53};x`)).kind, "malformed");
    assert.equal(decodePayload(b("6,1,1,-,ncfrag=0/9000;x")).kind, "malformed");
    assert.equal(decodePayload(b("6,99999999999999999999,1,-;x")).kind, "malformed");
    assert.equal(
      decodePayload(b("6,1,1,-,ncfrag=0/9000;x"), { maxMessageBytes: 65536 }).kind,
      "extended",
    );
  });

  it("thousands of distinct seqs from one source stay within the pending-bytes limit", () => {
    const limit = 64 * 1024;
    const r = new Reassembler({ maxPendingBytesPerSource: limit, timeoutMs: 1000 });
    for (let seq = 0; seq < 20_000; seq++) {
      const d = decodePayload(b(`6,${seq},1,-,ncfrag=0/8000;start`)) as DecodedExtended;
      assert.equal(r.add("attacker", d, seq), null);
      assert.ok(r.heldBytesOf("attacker") <= limit, `held ${r.heldBytesOf("attacker")}`);
    }
    // Each costs its 5 bytes and overheads, not the 8000 it declares.
    const each = PENDING_OVERHEAD_BYTES + 5 + CHUNK_OVERHEAD_BYTES;
    assert.equal(r.pending, Math.floor(limit / each));
    assert.equal(r.counters.incomplete, 20_000 - r.pending);
    for (let seq = 0; seq < 5000; seq++) {
      r.add("tiny", decodePayload(b(`6,${seq},1,-,ncfrag=0/2;a`)) as DecodedExtended, 0);
    }
    assert.ok(r.heldBytesOf("tiny") <= limit, "tiny fragments are bounded too");
    assert.ok(r.heldBytes <= 2 * limit);
  });

  it("holds what was received, not the declared total: 300,000 sources x ncfrag=0/8192", () => {
    // Before: each first fragment allocated its whole declared total (8192 B for a 30-byte
    // datagram): 2.5 GB for these 300,000 sources.
    const r = new Reassembler({ maxPendingBytes: 16 * 1024 * 1024 });
    const d = decodePayload(b("6,1,1,-,ncfrag=0/8192;abcdefgh")) as DecodedExtended;
    const before = process.memoryUsage().arrayBuffers;
    for (let source = 0; source < 300_000; source++) r.add(source, d, source);
    assert.ok(r.heldBytes <= 16 * 1024 * 1024);
    assert.equal(r.pending + r.counters.incomplete, 300_000);
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(grown < 64 * 1024 * 1024, `array buffers grew by ${grown} bytes`);
  });

  it("a --max-message-bytes above the default per-source limit raises that limit", () => {
    const big = 1 << 20;
    const r = new Reassembler({ maxMessageBytes: big });
    assert.ok(r.maxPendingBytesPerSource >= Reassembler.messageCost(big));
    const text = Buffer.alloc(big - 1, 0x61);
    const frags = encodeExtended({ facility: 0, level: 6, seq: 1, tsUs: 1, text });
    let whole: DecodedExtended | null = null;
    for (const f of frags)
      whole = r.add("h", decodePayload(f, { maxMessageBytes: big }) as DecodedExtended, 0) ?? whole;
    assert.equal(whole?.text?.length, big - 1, "a message of the cap's size completes");
    assert.throws(
      () => new Reassembler({ maxMessageBytes: big, maxPendingBytesPerSource: 256 * 1024 }),
      /must hold one message/,
    );
  });

  it("gives up incomplete messages after the timeout, and a late fragment of a completed one is a duplicate", () => {
    const r = new Reassembler({ timeoutMs: 200 });
    const frags = encodeExtended(
      { facility: 0, level: 6, seq: 3, tsUs: 1, text: "w".repeat(400) },
      { chunkSize: 150 },
    );
    r.add("h", decodePayload(frags[0]) as DecodedExtended, 0);
    assert.equal(r.expire(199), 0);
    assert.equal(r.expire(200), 1);
    assert.equal(r.counters.incomplete, 1);
    let whole: DecodedExtended | null = null;
    for (const f of frags) whole = r.add("h", decodePayload(f) as DecodedExtended, 300) ?? whole;
    assert.ok(whole);
    assert.equal(r.add("h", decodePayload(frags[1]) as DecodedExtended, 301), null);
    assert.equal(r.counters.duplicateFragments, 1);
    assert.equal(r.pending, 0);
  });
});
