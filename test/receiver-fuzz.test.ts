/**
 * Property-based fuzzing of the real receiver core with hostile datagrams: random bytes, mutated
 * valid records, ncfrag abuse, emergency jumps, huge seqs, kernel NULs, many sources. After every
 * batch: nothing thrown, no datagram took pathologically long (a hang guard, not a speed figure),
 * the counters reconcile, and what the reassembler holds is within its caps.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { encodeExtended } from "../blaster/codec.ts";
import { loadNetRaw } from "../blaster/raw/native.ts";
import { CORE_COUNTERS, WorkerCore } from "../receiver/core.ts";
import type { DecodedExtended, DecodedLegacy } from "../receiver/decode.ts";
import { createSink, printLine, type Sink } from "../receiver/sinks.ts";
import { runFuzzBench } from "../scenarios/bench/fuzz.ts";
import {
  HOSTILE_MAX_BYTES,
  hostileDatagram,
  hostileSource,
} from "../scenarios/bench/hostile-datagrams.ts";
import { needs } from "./capabilities.ts";

const b = (s: string) => Buffer.from(s, "latin1");

/**
 * A datagram taking more CPU time than this is a hang (CPU time of this process, so a loaded
 * machine that deschedules the test does not count).
 */
const HANG_GUARD_MS = 100;
const MAX_HOSTS = 48;
const MAX_MESSAGE_BYTES = 4096;

const seqArb = fc.oneof(
  fc.integer({ min: 0, max: 40 }),
  fc.integer({ min: 0, max: 5000 }),
  fc.constantFrom(2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 64, 1e20),
  fc.maxSafeNat(),
);
const numberText = (n: number) =>
  fc.constantFrom(String(n), `0x${Math.floor(n).toString(16)}`, ` +${n}`, `0${n}`);

const validRecord = fc
  .record({
    seq: fc.integer({ min: 0, max: 200 }),
    text: fc.string({ maxLength: 300 }),
    chunk: fc.integer({ min: 60, max: 400 }),
  })
  .map(({ seq, text, chunk }) =>
    encodeExtended({ facility: 0, level: 6, seq, tsUs: 1, text }, { chunkSize: chunk }),
  );

const hostile: fc.Arbitrary<Buffer[]> = fc.oneof<fc.Arbitrary<Buffer[]>[]>(
  // Random bytes, sometimes with a header-like start.
  fc.uint8Array({ maxLength: 1200 }).map((u) => [Buffer.from(u)]),
  fc
    .tuple(fc.constantFrom("6,", "6,1,", "6,1,1,-,", "6.1,", ";", "ncfrag="), fc.uint8Array())
    .map(([p, u]) => [Buffer.concat([b(p), u])]),
  // Valid records (fragmented or not), delivered whole or with their datagrams mutated.
  validRecord,
  fc
    .tuple(
      validRecord,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
    )
    .map(([frags, flips]) =>
      frags.map((f) => {
        const copy = Buffer.from(f);
        for (const [at, v] of flips) if (copy.length > 0) copy[at % copy.length] = v;
        return copy;
      }),
    ),
  // ncfrag abuse: offsets and totals anywhere, in any number form, overlapping, huge.
  fc
    .record({
      seq: seqArb,
      off: fc.oneof(fc.integer({ min: 0, max: 9000 }), fc.maxSafeNat()),
      total: fc.oneof(fc.integer({ min: 0, max: 9000 }), fc.maxSafeNat()),
      data: fc.uint8Array({ maxLength: 1000 }),
      emg: fc.boolean(),
    })
    .chain(({ seq, off, total, data, emg }) =>
      fc
        .tuple(numberText(off), numberText(total))
        .map(([o, t]) => [
          Buffer.concat([b(`6,${seq},1,-,${emg ? "ncemg=1," : ""}ncfrag=${o}/${t};`), data]),
        ]),
    ),
  // Emergency jumps and huge seqs.
  fc
    .tuple(seqArb, fc.boolean(), fc.string({ maxLength: 40 }))
    .map(([seq, emg, text]) => [b(`6,${seq},0,-${emg ? ",ncemg=1" : ""};jump ${text}\n`)]),
  // Exactly 1000-byte records with a release prefix, ending in NUL or not.
  fc.tuple(fc.integer({ min: 0, max: 100 }), fc.boolean()).map(([seq, nul]) => {
    const head = b(`6.8.0,6,${seq},1,-;`);
    const out = Buffer.alloc(1000, 0x78);
    head.copy(out);
    if (nul) out[999] = 0;
    return [out];
  }),
  // Legacy lines with control characters.
  fc.string({ maxLength: 200 }).map((s) => [b(`[  1.0] ${s}\x1b[2J\n`)]),
);

/** A sink that checks every line it is given is one line, and counts them. */
class CheckingSink implements Sink {
  error: string | null = null;
  written = 0;
  write(source: string, message: DecodedExtended | DecodedLegacy): void {
    const line = printLine(source, message);
    assert.equal(line.indexOf("\n"), line.length - 1, "one message, one line");
    assert.doesNotMatch(line.slice(0, -1), /[\x00-\x1f\x7f-\x9f]/);
    this.written++;
  }
  flush(): void {}
  close(): void {}
}

/** The ledger the core's counters must satisfy at any moment; throws naming what does not add up. */
function checkLedger(core: WorkerCore, fed: number, sink: CheckingSink): void {
  const c = core.counters;
  const r = core.reassembler;
  const s = core.sequence;
  assert.equal(c.datagrams, fed, "every datagram counted");
  const whole = c.datagrams - c.malformed - c.legacy - c.fragments;
  assert.ok(whole >= 0, "malformed, legacy and fragments are disjoint parts of the datagrams");
  assert.equal(c.extended + c.duplicates, whole + r.counters.reassembled, "extended messages");
  assert.equal(c.fragments, r.counters.fragments + r.counters.overLimit, "fragments");
  assert.equal(
    s.counters.messages + s.counters.duplicates + s.counters.stale,
    c.extended + c.duplicates,
    "sequence outcomes",
  );
  assert.equal(c.duplicates, s.counters.duplicates);
  assert.equal(sink.written, c.extended + c.legacy, "every delivered message reached the sink");
  assert.equal(s.counters.hosts - s.counters.hostsEvicted, s.size, "hosts");
  assert.ok(s.size <= MAX_HOSTS, "--max-hosts");
  // Memory: what the reassembler holds, per host and in all, within its caps; and its state
  // exists only for tracked hosts.
  assert.ok(r.heldBytes <= r.maxPendingBytes, "pending bytes in all");
  assert.ok(r.largestSourceBytes() <= r.maxPendingBytesPerSource, "pending bytes per host");
  assert.ok(r.sourceCount <= s.size, "fragment state belongs to tracked hosts");
  for (const name of CORE_COUNTERS) assert.ok(Number.isFinite(c[name]), name);
}

describe("receiver fuzz (fast-check, the real WorkerCore)", () => {
  it("hostile datagrams from many sources: no exception, no hang, ledger and memory hold", () => {
    let total = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 199 }), hostile), {
          minLength: 30,
          maxLength: 60,
        }),
        fc.integer({ min: 0, max: 3 }),
        (batch, tickEvery) => {
          const sink = new CheckingSink();
          const core = new WorkerCore(
            {
              maxMessageBytes: MAX_MESSAGE_BYTES,
              fragmentTimeoutMs: 50,
              sequence: { maxHosts: MAX_HOSTS, hostIdleMs: 200, window: 64 },
            },
            sink,
          );
          let fed = 0;
          let nowUs = 1_000_000;
          for (const [i, [source, datagrams]] of batch.entries()) {
            const address = source % 3 === 0 ? `::ffff:10.0.0.${source}` : `10.0.${source}.1`;
            for (const d of datagrams) {
              nowUs += 7_000;
              const started = process.cpuUsage();
              core.handleText(address, d, nowUs - 5, nowUs);
              const took = process.cpuUsage(started);
              const tookMs = (took.user + took.system) / 1000;
              assert.ok(tookMs < HANG_GUARD_MS, `one datagram took ${tookMs} ms of CPU`);
              fed++;
            }
            if (tickEvery > 0 && i % tickEvery === 0) core.tick(nowUs / 1000);
          }
          checkLedger(core, fed, sink);
          core.finish(nowUs / 1000 + 1);
          checkLedger(core, fed, sink);
          assert.equal(core.reassembler.pending, 0, "finish gives every incomplete message up");
          total += fed;
        },
      ),
      { numRuns: 300 },
    );
    assert.ok(total >= 10_000, `${total} datagrams fuzzed`);
  });
});

describe("fuzz benchmark (smoke)", () => {
  it("sends 10^4 hostile datagrams over loopback into a real receiver; the ledger balances", async (t) => {
    const addon = loadNetRaw();
    if (!needs(t, "addon", "error" in addon ? addon.error : null)) return;
    const report = await runFuzzBench({ datagrams: 10_000, sources: 500, seed: 7 });
    assert.equal(report.datagramsSent, 10_000);
    assert.equal(report.ledger.balanced, true, JSON.stringify(report.ledger));
    assert.ok(report.peakRssBytes > 0);
    // The same datagrams fed straight into a WorkerCore: the wire and the receiver's threads
    // must not change a byte (a sender that reused its buffer too early once did).
    const l = report.ledger;
    if (l.read === l.sent && l.queueDrops === 0) {
      const core = new WorkerCore({}, createSink({ kind: "none" }, -1));
      const out = Buffer.alloc(HOSTILE_MAX_BYTES);
      for (let i = 0; i < 10_000; i++) {
        const length = hostileDatagram(7, i, out);
        core.handleText(`host${hostileSource(7, i, 500)}`, out.subarray(0, length), i, i);
      }
      const c = core.counters;
      assert.deepEqual(
        [l.malformed, l.legacy, l.fragments, l.reassembled, l.extended, l.duplicates],
        [
          c.malformed,
          c.legacy,
          c.fragments,
          core.reassembler.counters.reassembled,
          c.extended,
          c.duplicates,
        ],
      );
    }
  });
});
