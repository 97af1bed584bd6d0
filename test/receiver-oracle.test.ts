/**
 * The impairment oracle: a seeded blaster run with loss, reordering and duplication (fragments
 * included) into our receiver; the receiver's counts must equal the blaster's recorded truth, and
 * the ledger must account for every datagram. Plus the ledger's arithmetic on its own.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { runBlast } from "../blaster/blast.ts";
import { extendedHosts, readTruth } from "../blaster/truth.ts";
import { formatLedger, reconcile } from "../receiver/ledger.ts";
import { type ReceiverReport, startReceiver } from "../receiver/receive.ts";
import { pause } from "./receiver-helpers.ts";

describe("impairment oracle (seeded blaster -> receiver)", () => {
  for (const bind of ["127.0.0.1", "::"]) {
    it(`finds exactly the blaster's truth (bind ${bind})`, async () => {
      const truthFile = join(mkdtempSync(join(tmpdir(), "ncb-oracle-")), "truth.jsonl");
      const r = await startReceiver({ bind, port: 0, listeners: 2, workers: 2, rcvbuf: 4 << 20 });
      let report: ReceiverReport;
      const blast = await runBlast({
        target: bind === "::" ? `[::1]:${r.port}` : `127.0.0.1:${r.port}`,
        hosts: 16,
        count: 1500,
        loss: 0.05,
        reorder: 0.1,
        reorderDepth: 3,
        duplicate: 0.05,
        seed: 20261121,
        rate: 20000,
        format: "extended",
        size: { kind: "range", min: 40, max: 2200 },
        truth: truthFile,
      });
      try {
        const end = Date.now() + 5000;
        while (r.snapshot().packets.read < blast.packets.sent && Date.now() < end) {
          await pause(20);
        }
      } finally {
        report = await r.stop("test done", { truth: extendedHosts(readTruth(truthFile)) });
      }
      assert.ok(blast.injected.lost > 0 && blast.injected.duplicated > 0);
      assert.ok(blast.injected.reordered > 0 && blast.fragmentsSent > 0);
      assert.equal(report.drops.kernel, 0, "paced loopback run: no kernel drops");
      assert.equal(report.drops.queue, 0);
      assert.equal(report.messages.extended, blast.expected.messagesDelivered);
      assert.equal(report.sequence.missing, blast.expected.missing);
      assert.equal(report.sequence.duplicates, blast.expected.duplicates);
      assert.equal(report.sequence.outOfOrder, blast.expected.outOfOrder);
      assert.equal(report.hosts, 16);
      const ledger = reconcile(blast, report);
      assert.equal(ledger.unaccounted, 0, formatLedger(ledger));
      assert.equal(ledger.blasterMismatch, 0);
      assert.ok(ledger.balanced && ledger.messagesMatch);
    });
  }
});

describe("ledger", () => {
  const blast = {
    datagrams: 1000,
    packets: { sent: 980, errors: 10 },
    injected: { lost: 30, duplicated: 20, reordered: 5 },
    expected: { messagesDelivered: 900, missing: 30, duplicates: 20, outOfOrder: 5 },
  };
  const received = (kernel: number, queue: number, processed: number) =>
    ({
      drops: { kernel, queue },
      packets: { received: processed },
      messages: { extended: 900 - kernel - queue },
      sequence: { missing: 30 + kernel + queue, duplicates: 20, outOfOrder: 5 },
    }) as unknown as ReceiverReport;

  it("adds up: sent = kernel drops + queue drops + processed + unaccounted", () => {
    const l = reconcile(blast, received(7, 3, 970));
    assert.equal(l.blasterMismatch, 1000 - 30 + 20 - 10 - 980);
    assert.equal(l.unaccounted, 0);
    assert.ok(l.balanced);
    let total = 0;
    for (const line of l.lines) {
      if (line.sign !== 0) total += line.sign * line.datagrams;
      else if (line.name === "sent on the wire") assert.equal(total, line.datagrams);
    }
    assert.equal(total, 0, "nothing left after the receiver's lines");
    assert.equal(l.receiverDrops, 10);
    assert.equal(l.messagesMatch, false);
    assert.deepEqual(
      l.messages.map((m) => m.delta),
      [-10, 10, 0, 0],
    );
    assert.match(formatLedger(l), /unaccounted\s+0/);
  });

  it("shows what is unaccounted", () => {
    const l = reconcile(blast, received(0, 0, 975));
    assert.equal(l.unaccounted, 5);
    assert.equal(l.balanced, false);
    assert.match(formatLedger(l), /NOT BALANCED/);
  });
});
