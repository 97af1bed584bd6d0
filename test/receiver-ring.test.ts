/** The shared ring between a listener and a worker, and the source-address routing. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import { hashBytes } from "../receiver/host-table.ts";
import { createRing, RingReader, RingWriter } from "../receiver/ring.ts";
import { workerForAddress } from "../receiver/route.ts";
import { pause } from "./receiver-helpers.ts";

const payloadOf = (r: RingReader) => r.bytes.subarray(r.payloadAt, r.payloadAt + r.payloadLen);

describe("listener -> worker ring", () => {
  it("carries records across the wrap-around point intact, in order", () => {
    const ring = createRing(1024);
    const w = new RingWriter(ring);
    const r = new RingReader(ring);
    let sent = 0;
    let got = 0;
    for (let round = 0; round < 200; round++) {
      // Sizes that do not divide the ring, so records meet its end at every offset.
      for (let k = 0; k < 3; k++) {
        const payload = Buffer.alloc(37 + ((round * 3 + k) % 90), sent & 0xff);
        assert.ok(w.add(payload, `10.0.0.${sent % 250}`, 6666, sent * 1.5));
        sent++;
      }
      assert.equal(r.pending(), false, "nothing is visible before publish()");
      assert.equal(w.publish(), true);
      assert.equal(w.publish(), false, "nothing new to publish");
      r.begin();
      while (r.next()) {
        assert.equal(r.addressText(), `10.0.0.${got % 250}`);
        assert.equal(r.port, 6666);
        assert.equal(r.recvUs, got * 1.5);
        const payload = payloadOf(r);
        assert.equal(payload.length, 37 + ((Math.floor(got / 3) * 3 + (got % 3)) % 90));
        assert.ok(payload.every((b) => b === (got & 0xff)));
        got++;
      }
      r.release();
    }
    assert.equal(got, sent);
  });

  it("refuses a record when the reader has not made room, and accepts it after release", () => {
    const ring = createRing(1024);
    const w = new RingWriter(ring);
    const r = new RingReader(ring);
    const payload = Buffer.alloc(200);
    let accepted = 0;
    while (w.add(payload, "::1", 1, 0)) accepted++;
    assert.equal(accepted, Math.floor(1024 / (13 + 3 + 200)));
    w.publish();
    r.begin();
    let read = 0;
    while (r.next()) read++;
    assert.equal(read, accepted);
    assert.equal(w.add(payload, "::1", 1, 0), false, "not released yet");
    r.release();
    assert.equal(w.add(payload, "::1", 1, 0), true);
  });

  it("says when the writer has closed and everything is read", () => {
    const ring = createRing(1024);
    const w = new RingWriter(ring);
    const r = new RingReader(ring);
    w.add(Buffer.from("x"), "::1", 1, 0);
    w.close();
    assert.equal(r.drained(), false, "a record is still unread");
    r.begin();
    assert.ok(r.next());
    r.release();
    assert.equal(r.drained(), true);
  });

  it("works between threads", async () => {
    const ring = createRing(4096);
    const worker = new Worker(
      `const { parentPort, workerData } = require("node:worker_threads");
       const { RingReader } = require(workerData.module);
       const r = new RingReader(workerData.ring);
       let sum = 0, n = 0;
       const poll = () => {
         r.begin();
         while (r.next()) { sum += r.bytes[r.payloadAt]; n++; }
         r.release();
         if (r.drained()) parentPort.postMessage({ sum, n });
         else setImmediate(poll);
       };
       poll();`,
      {
        eval: true,
        workerData: { ring, module: new URL("../receiver/ring.ts", import.meta.url).pathname },
      },
    );
    const w = new RingWriter(ring);
    let sum = 0;
    let sent = 0;
    for (let i = 0; i < 5000; i++) {
      while (!w.add(Buffer.from([i % 200, 1, 2, 3]), "127.0.0.1", 9, i)) {
        w.publish();
        await pause(1);
      }
      sum += i % 200;
      sent++;
      if (sent % 64 === 0) w.publish();
    }
    w.close();
    const result = await new Promise<{ sum: number; n: number }>((resolve) =>
      worker.once("message", resolve),
    );
    await worker.terminate();
    assert.deepEqual(result, { sum, n: sent });
  });

  it("hashes a source address to one worker, whatever the port", () => {
    assert.equal(workerForAddress("127.0.0.1", 4), workerForAddress("127.0.0.1", 4));
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[workerForAddress(`10.0.${i >> 8}.${i & 255}`, 4)]++;
    for (const c of counts) assert.ok(c > 800 && c < 1200, `spread ${counts}`);
  });

  it("routes by 32-bit FNV-1a of the address text, the hash the host table keys on", () => {
    // FNV-1a's published test values; hashBytes gives them as signed 32-bit integers.
    const fnv1a = (text: string) => hashBytes(Buffer.from(`>>${text}`, "latin1"), 2, text.length);
    assert.equal(fnv1a("") >>> 0, 0x811c9dc5);
    assert.equal(fnv1a("a") >>> 0, 0xe40c292c);
    assert.equal(fnv1a("foobar") >>> 0, 0xbf9cf968);
    assert.equal(workerForAddress("foobar", 1000), 0xbf9cf968 % 1000);
    assert.equal(workerForAddress("127.0.0.1", 7), 0x08a3d11e % 7);
    // An address longer than the reused scratch buffer (a zone name can be long).
    const long = `fe80::1%${"z".repeat(200)}`;
    assert.equal(workerForAddress(long, 1009), (fnv1a(long) >>> 0) % 1009);
  });
});
