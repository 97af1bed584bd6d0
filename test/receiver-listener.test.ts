/**
 * The two listener read paths (Node's dgram, the native addon's recvmmsg batches) must be
 * interchangeable: the same seeded, impaired traffic gives the same counts through both, down to
 * which worker each host landed on (the native path hashes the address text's bytes, the dgram
 * path the string). Plus the pure pieces the native path adds: the byte hash and the ring append
 * from memory.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { runBlast } from "../blaster/blast.ts";
import { loadListenerAddon, SLOT_BYTES } from "../receiver/native-listener.ts";
import { type ReceiverReport, startReceiver } from "../receiver/receive.ts";
import { createRing, RingReader, RingWriter } from "../receiver/ring.ts";
import { workerForAddress, workerForAddressBytes } from "../receiver/route.ts";
import { loopbackReceiver, pause, sender, waitProcessed } from "./receiver-helpers.ts";

const loaded = loadListenerAddon();
const noAddon = "error" in loaded ? `native addon unavailable: ${loaded.error}` : undefined;

describe("native listener pieces (pure)", () => {
  it("hashes an address's bytes to the same worker as its string", () => {
    const address = fc.oneof(
      fc.ipV4(),
      fc.ipV6(),
      fc.ipV4().map((a) => `::ffff:${a}`),
    );
    fc.assert(
      fc.property(address, fc.integer({ min: 1, max: 64 }), fc.nat(8), (a, workers, at) => {
        const bytes = new Uint8Array(at + a.length + 3);
        bytes.set(Buffer.from(a, "latin1"), at);
        assert.equal(
          workerForAddressBytes(bytes, at, a.length, workers),
          workerForAddress(a, workers),
        );
      }),
    );
  });

  it("addFrom() writes the record add() writes, from offsets into other memory", () => {
    const ring = createRing(1024);
    const writer = new RingWriter(ring);
    const reader = new RingReader(ring);
    const src = Buffer.from("xxhello worldyy");
    const address = Buffer.from("..::ffff:127.0.0.9..", "latin1");
    // Enough records to wrap the 1 KiB ring several times.
    for (let i = 0; i < 100; i++) {
      assert.ok(writer.addFrom(src, 2, 11, address, 2, 16, 6665 + i, 1000 + i));
      writer.publish();
      reader.begin();
      assert.ok(reader.next());
      const { bytes, payloadAt, payloadLen } = reader;
      assert.equal(bytes.toString("latin1", payloadAt, payloadAt + payloadLen), "hello world");
      assert.equal(reader.addressText(), "::ffff:127.0.0.9");
      assert.equal(reader.port, 6665 + i);
      assert.equal(reader.recvUs, 1000 + i);
      assert.equal(reader.next(), false);
      reader.release();
    }
  });
});

/** The figures that must not depend on the read path (not the rate, nor the ncrx outcomes timed
 * by the msg-timeout clock, such as holes given up, nor the system-wide RcvbufErrors that other
 * programs' sockets add to). */
function counts(report: ReceiverReport) {
  const { ratePps: _rate, ...packets } = report.packets;
  const { kernelRcvbufErrorsSystem: _system, ...drops } = report.drops;
  const q = report.sequence;
  return {
    packets,
    messages: report.messages,
    sequence: [q.missing, q.outOfOrder, q.duplicates, q.resets, q.stale, q.outOfSequence],
    drops,
    hosts: report.hosts,
    perWorker: report.perWorker.map((w) => [w.datagrams, w.messages, w.hosts]),
  };
}

describe("listener read paths", { skip: noAddon }, () => {
  it("dgram and native count the same impaired traffic identically (dual-stack [::])", async () => {
    const results: ReturnType<typeof counts>[] = [];
    for (const listener of ["dgram", "native"] as const) {
      const r = await startReceiver({
        bind: "::",
        port: 0,
        listeners: 2,
        workers: 3,
        rcvbuf: 4 << 20,
        listener,
      });
      let report: ReceiverReport;
      const blast = await runBlast({
        target: `127.0.0.1:${r.port}`,
        hosts: 40,
        count: 3000,
        loss: 0.03,
        reorder: 0.1,
        reorderDepth: 3,
        duplicate: 0.05,
        seed: 7,
        rate: 20000,
        format: "mixed",
        size: { kind: "range", min: 40, max: 2200 },
      });
      try {
        const end = Date.now() + 5000;
        while (r.snapshot().packets.received < blast.packets.sent && Date.now() < end) {
          await pause(20);
        }
      } finally {
        report = await r.stop("test done");
      }
      assert.equal(report.config.listener, listener);
      assert.equal(report.config.listenerRequested, listener);
      assert.equal(report.packets.read, blast.packets.sent);
      assert.equal(report.drops.kernel, 0, "paced loopback run: no kernel drops");
      assert.equal(
        report.perListener.reduce((n, l) => n + l.truncated, 0),
        0,
      );
      results.push(counts(report));
    }
    assert.ok(results[0].messages.fragments > 0 && results[0].sequence[2] > 0);
    assert.ok(results[0].messages.legacy > 0 && results[0].sequence[0] > 0);
    assert.deepEqual(results[1], results[0]);
  });

  it("auto picks native where the addon is built; a datagram over the slot is cut and counted", async () => {
    const r = await loopbackReceiver({ listeners: 1, workers: 1 });
    const s = await sender("127.0.0.5");
    await s.send(Buffer.alloc(SLOT_BYTES + 500, "a"));
    await s.send(Buffer.from("<6>short legacy line\n"));
    await waitProcessed(r, 2);
    const report = await r.stop("test done");
    s.close();
    assert.equal(report.config.listener, "native");
    assert.equal(report.config.listenerRequested, "auto");
    assert.equal(report.packets.read, 2);
    assert.equal(report.packets.received, 2);
    assert.equal(report.perListener[0].truncated, 1);
    assert.equal(report.packets.bytes, SLOT_BYTES + 21);
  });
});
