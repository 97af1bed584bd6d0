import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Outcome, SequenceTracker } from "../receiver/sequence.ts";

describe("SequenceTracker (pure, exact timings)", () => {
  it("counts the first message of a host as a reset and a clean stream as in order", () => {
    const t = new SequenceTracker();
    assert.equal(t.observe("a", 10, false, 0), Outcome.reset);
    for (let s = 11; s <= 20; s++) assert.equal(t.observe("a", s, false, s), Outcome.inOrder);
    const c = t.totals();
    assert.equal(c.messages, 11);
    assert.equal(c.resets, 1);
    assert.equal(c.missing, 0);
    assert.equal(c.outOfOrder, 0);
    assert.equal(c.duplicates, 0);
    assert.equal(c.heldBehindHole, 0);
    assert.equal(c.hosts, 1);
  });

  it("counts missing, out-of-order and duplicates exactly as receiver/sequence.ts defines them", () => {
    const t = new SequenceTracker();
    // 1 2 4 3 3 6 7 (5 never comes), then 0 arrives late (before the first seen).
    for (const s of [1, 2, 4, 3, 3, 6, 7]) t.observe("h", s, false, 0);
    t.observe("h", 0, false, 0);
    const c = t.totals();
    assert.equal(c.missing, 1, "5 never completed inside [0, 7]");
    assert.equal(c.outOfOrder, 2, "3 after 4, 0 after 7");
    assert.equal(c.duplicates, 1);
    assert.deepEqual(t.host("h"), { first: 0, max: 7, distinct: 7, tail: 5, missing: 1 });
  });

  it("keeps hosts apart", () => {
    const t = new SequenceTracker();
    t.observe("a", 1, false, 0);
    t.observe("b", 1, false, 0);
    t.observe("a", 3, false, 0);
    t.observe("b", 2, false, 0);
    const c = t.totals();
    assert.equal(c.missing, 1);
    assert.equal(c.resets, 2);
    assert.equal(c.hosts, 2);
  });

  it("gives a hole up exactly msgTimeoutMs after it opened, and counts a late fill", () => {
    const t = new SequenceTracker({ msgTimeoutMs: 200 });
    t.observe("h", 1, false, 1000);
    t.observe("h", 3, false, 1010); // hole at 2 opens at 1010
    assert.equal(t.counters.heldBehindHole, 1);
    assert.equal(t.nextDeadline(), 1210);
    t.expire(1209);
    assert.equal(t.counters.holesGivenUp, 0);
    t.observe("h", 6, false, 1100); // holes 4, 5 open at 1100
    t.expire(1210);
    assert.equal(t.counters.holesGivenUp, 1, "hole 2 given up at 1210");
    assert.equal(t.host("h")!.tail, 4);
    assert.equal(t.nextDeadline(), 1300);
    t.observe("h", 2, false, 1250); // too late: already given up
    assert.equal(t.counters.lateAfterGiveUp, 1);
    t.observe("h", 4, false, 1260); // fills in time
    t.expire(1300);
    assert.equal(t.counters.holesGivenUp, 2, "hole 5 given up at 1300");
    assert.equal(t.nextDeadline(), Number.POSITIVE_INFINITY);
    const c = t.totals();
    assert.equal(c.missing, 1, "only 5 never completed");
    assert.equal(c.outOfOrder, 2);
  });

  it("a filled hole releases the held messages without a give-up", () => {
    const t = new SequenceTracker({ msgTimeoutMs: 200 });
    t.observe("h", 1, false, 0);
    t.observe("h", 3, false, 0);
    t.observe("h", 4, false, 0);
    t.observe("h", 2, false, 50);
    assert.equal(t.host("h")!.tail, 5);
    t.expire(1000);
    assert.equal(t.counters.holesGivenUp, 0);
    assert.equal(t.counters.heldBehindHole, 2);
  });

  it("forces holes out before the ring wraps onto them", () => {
    const t = new SequenceTracker({ window: 64 }); // forceGap = 48
    t.observe("h", 0, false, 0);
    t.observe("h", 60, false, 0); // 1..11 must go at once (60 - 48 = 12)
    assert.equal(t.counters.holesForced, 12 - 1);
    assert.equal(t.host("h")!.tail, 12);
    assert.equal(t.totals().missing, 59);
  });

  it("treats a seq more than `window` away as out of sequence, emits it after oosTimeoutMs", () => {
    const t = new SequenceTracker({ window: 64, oosTimeoutMs: 200 });
    t.observe("h", 100, false, 0);
    assert.equal(t.observe("h", 100 + 65, false, 10), Outcome.outOfSequence);
    assert.equal(t.observe("h", 100 + 64, false, 20), Outcome.inOrder, "exactly window away is in");
    assert.equal(t.observe("h", 5000, false, 30), Outcome.outOfSequence);
    t.expire(209);
    assert.equal(t.counters.oosEmitted, 0);
    t.expire(210);
    assert.equal(t.counters.oosEmitted, 2);
    assert.equal(t.counters.outOfSequence, 2);
  });

  it("resets a stream when 19 of the last 32 messages were out of sequence", () => {
    const t = new SequenceTracker({ window: 64 });
    for (let s = 1000; s < 1010; s++) t.observe("h", s, false, 0);
    // The host reboots: seq starts again at 1.
    for (let s = 1; s <= 18; s++) assert.equal(t.observe("h", s, false, 1), Outcome.outOfSequence);
    assert.equal(t.observe("h", 19, false, 1), Outcome.reset);
    assert.equal(t.counters.oosResets, 1);
    assert.equal(t.counters.resets, 2);
    assert.equal(t.observe("h", 20, false, 1), Outcome.inOrder);
    assert.deepEqual(t.host("h"), { first: 19, max: 20, distinct: 2, tail: 21, missing: 0 });
  });

  it("never treats an emergency message as out of sequence", () => {
    const t = new SequenceTracker({ window: 64 });
    t.observe("h", 1, false, 0);
    assert.equal(t.observe("h", 1000, true, 0), Outcome.inOrder);
    assert.equal(t.counters.emergency, 1);
    assert.equal(t.counters.outOfSequence, 0);
  });

  it("walks no gap one seq at a time: an emergency jump to 2^53 - 1 returns at once, counted exactly", () => {
    // Before: the tracker gave the holes up one seq per loop turn (a jump of 10^9 took ~8 s, this
    // one forever), so one spoofed datagram hung a worker.
    const t = new SequenceTracker(); // window 512, holes forced 384 behind the highest seq
    const top = Number.MAX_SAFE_INTEGER;
    t.observe("h", 1, false, 0);
    assert.equal(t.observe("h", top, true, 1), Outcome.inOrder);
    assert.equal(
      t.counters.holesForced,
      top - 384 - 2,
      "every seq from 2 up to top - 385 given up",
    );
    assert.equal(t.host("h")!.tail, top - 384);
    assert.equal(t.totals().missing, top - 2);
    t.expire(1000);
    assert.equal(t.counters.holesGivenUp, top - 2, "the last 383 holes time out, none twice");
    // The same, far past the window with a normal message after an emergency one.
    const u = new SequenceTracker({ window: 64 });
    u.observe("h", 10, false, 0);
    u.observe("h", 10 + 1e12, true, 0);
    u.observe("h", 11 + 1e12, false, 0);
    assert.equal(u.counters.holesForced, 1e12 + 11 - 48 - 11, "11 .. 1e12 - 38");
    assert.equal(u.totals().missing, 1e12 - 1);
  });

  it("gives up a forced gap across the highest seq exactly as a walk would", () => {
    // tail below max with some seqs completed, then a jump: holes at and above max counted once.
    const t = new SequenceTracker({ window: 64 }); // forceGap 48
    for (const s of [0, 2, 3, 6]) t.observe("h", s, false, 0);
    t.observe("h", 200, true, 0); // tail 1 -> 152: holes 1, 4, 5, then 7..151
    assert.equal(t.counters.holesForced, 3 + (151 - 7 + 1));
    assert.equal(t.host("h")!.tail, 152);
  });

  it("evicts idle hosts and, when full, the least recently seen; their figures are kept", () => {
    const evicted: string[] = [];
    const t = new SequenceTracker({ maxHosts: 2, hostIdleMs: 1000 });
    t.onEvict = (h) => evicted.push(h);
    t.observe("a", 1, false, 0);
    t.observe("a", 3, false, 0); // a has 1 missing
    t.observe("b", 1, false, 10);
    t.observe("a", 4, false, 20); // a is now the most recent
    t.observe("c", 1, false, 30); // full: b goes
    assert.deepEqual(evicted, ["b"]);
    assert.equal(t.nextDeadline(), 200, "a's hole at 2 opened at 0");
    t.expire(1019);
    assert.deepEqual(evicted, ["b"]);
    assert.equal(t.nextDeadline(), 1020, "a idle since 20");
    t.expire(1020);
    assert.deepEqual(evicted, ["b", "a"]);
    t.expire(1030);
    assert.deepEqual(evicted, ["b", "a", "c"]);
    const c = t.totals();
    assert.equal(c.hostsEvicted, 3);
    assert.equal(c.missing, 1);
    assert.equal(c.hosts, 3);
    assert.equal(t.size, 0);
  });

  it("tells a duplicate from a new seq across ring wrap-around", () => {
    const t = new SequenceTracker({ window: 32 });
    for (let s = 0; s < 100; s++) t.observe("h", s, false, 0);
    assert.equal(t.observe("h", 99 - 31, false, 0), Outcome.duplicate);
    assert.equal(t.observe("h", 99, false, 0), Outcome.duplicate);
    assert.equal(t.totals().missing, 0);
  });

  it("handles 64-bit-sized seqs beyond 2^32", () => {
    const t = new SequenceTracker();
    const base = 2 ** 40;
    t.observe("h", base, false, 0);
    t.observe("h", base + 2, false, 0);
    t.observe("h", base + 2, false, 0);
    assert.equal(t.totals().missing, 1);
    assert.equal(t.counters.duplicates, 1);
  });

  it("counts a legacy-only host once and starts its stream at its first extended message", () => {
    const t = new SequenceTracker();
    assert.equal(t.touch("x", 0), false);
    assert.equal(t.touch("x", 1), true);
    assert.equal(t.observe("x", 7, false, 2), Outcome.reset);
    assert.equal(t.counters.hosts, 1);
    assert.equal(t.totals().missing, 0);
  });
});

describe("SequenceTracker edges from the sender's truth", () => {
  it("counts seqs lost before the first and after the last seen", () => {
    const t = new SequenceTracker();
    for (const s of [3, 4, 6]) t.observe("h", s, false, 0);
    assert.equal(t.edgeMissing("h", 0, 9), 3 + 3);
    assert.equal(t.edgeMissing("h", 3, 6), 0);
    assert.equal(t.edgeMissing("nobody", 0, 9), null);
    assert.equal(t.totals().missing, 1, "the inner hole (5) is counted without the truth");
  });
});
