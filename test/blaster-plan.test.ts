/**
 * The pure parts of the blaster: the impairment plan (decisions, emission order, exact truth and
 * the `expected` block), the pacing schedule and the pacer that batches it. No sockets, threads
 * or clocks.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type DatagramInfo,
  type ImpairmentConfig,
  ImpairmentPlan,
} from "../blaster/impairments.ts";
import { Pacer } from "../blaster/pacing.ts";
import { Schedule } from "../blaster/schedule.ts";

interface Message {
  host: number;
  seq: number;
  fragments: number;
}

/** Runs messages (in generation order) through a plan; returns the emitted datagrams in order. */
function play(config: ImpairmentConfig, messages: Message[]) {
  const infos: DatagramInfo[] = [];
  const index = new Map<number, number>();
  for (const m of messages) {
    for (let f = 0; f < m.fragments; f++) {
      const i = index.get(m.host) ?? 0;
      index.set(m.host, i + 1);
      infos.push({
        host: m.host,
        index: i,
        seq: m.seq,
        fragment: f,
        fragments: m.fragments,
        tracked: true,
        token: infos.length,
      });
    }
  }
  const emitted: DatagramInfo[] = [];
  const heldTokens: number[] = [];
  const plan = new ImpairmentPlan(config, {
    emit(token, _host, copies) {
      for (let c = 0; c < copies; c++) emitted.push(infos[token]);
    },
    hold(token) {
      heldTokens.push(token);
    },
  });
  for (const d of infos) plan.offer(d);
  plan.finish();
  return { infos, emitted, plan, heldTokens };
}

/** What a perfect receiver finds in an emitted stream (independent of the plan's bookkeeping). */
function receive(emitted: DatagramInfo[]) {
  const seen = new Set<string>();
  const have = new Map<string, number>();
  const highest = new Map<number, number>();
  let duplicates = 0;
  let delivered = 0;
  let outOfOrder = 0;
  for (const d of emitted) {
    const key = `${d.host}:${d.seq}:${d.fragment}`;
    if (seen.has(key)) {
      duplicates++;
      continue;
    }
    seen.add(key);
    const msg = `${d.host}:${d.seq}`;
    const n = (have.get(msg) ?? 0) + 1;
    have.set(msg, n);
    if (n === d.fragments) {
      delivered++;
      const top = highest.get(d.host) ?? -1;
      if (d.seq < top) outOfOrder++;
      else highest.set(d.host, d.seq);
    }
  }
  return { delivered, duplicates, outOfOrder, distinct: seen.size };
}

function messagesFor(
  hosts: number,
  perHost: number,
  fragmentsOf: (h: number, s: number) => number,
) {
  const out: Message[] = [];
  for (let s = 0; s < perHost; s++) {
    for (let h = 0; h < hosts; h++)
      out.push({ host: h, seq: 1000 + s, fragments: fragmentsOf(h, s) });
  }
  return out;
}

describe("impairment plan", () => {
  it("sends everything once, in order, when nothing is impaired", () => {
    const msgs = messagesFor(3, 50, () => 1);
    const { emitted, plan } = play(
      { seed: 1, hosts: 3, loss: 0, duplicate: 0, reorder: 0, reorderDepth: 1 },
      msgs,
    );
    assert.equal(emitted.length, 150);
    assert.deepEqual(
      emitted.map((d) => d.token),
      emitted.map((_, i) => i),
    );
    assert.deepEqual(plan.truth.expected, {
      messagesDelivered: 150,
      missing: 0,
      duplicates: 0,
      outOfOrder: 0,
    });
  });

  it("its truth equals what a perfect receiver finds, for any seed and mix", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.integer({ min: 1, max: 6 }),
        (seed, loss, duplicate, reorder, depth) => {
          const msgs = messagesFor(4, 40, (h, s) => 1 + ((h * 7 + s * 3) % 3));
          const config = { seed, hosts: 4, loss, duplicate, reorder, reorderDepth: depth };
          const { infos, emitted, plan } = play(config, msgs);
          const found = receive(emitted);
          const t = plan.truth;
          // Every datagram is either lost or emitted once or twice.
          assert.equal(emitted.length, infos.length - t.lost + t.duplicated);
          assert.equal(found.distinct, infos.length - t.lost);
          assert.equal(found.duplicates, t.expected.duplicates);
          assert.equal(found.delivered, t.expected.messagesDelivered);
          assert.equal(found.outOfOrder, t.expected.outOfOrder);
          assert.equal(t.expected.messagesDelivered + t.expected.missing, msgs.length);
          assert.equal(plan.heldCount(), 0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("holds a datagram behind 1..depth later datagrams of the same host only", () => {
    const msgs = messagesFor(2, 200, () => 1);
    const depth = 4;
    const { emitted, plan } = play(
      { seed: 7, hosts: 2, loss: 0, duplicate: 0, reorder: 0.2, reorderDepth: depth },
      msgs,
    );
    assert.ok(plan.truth.reordered > 0);
    let displaced = 0;
    for (const host of [0, 1]) {
      const order = emitted.filter((d) => d.host === host).map((d) => d.seq);
      order.forEach((seq, position) => {
        const later = order.slice(0, position).filter((s) => s > seq).length;
        assert.ok(later <= depth * 2, `seq ${seq} passed by ${later}`);
        // Counted once per held datagram that went out after a later one.
        if (later > 0 && order.slice(position + 1).every((s) => s > seq)) displaced++;
      });
    }
    assert.ok(displaced > 0);
  });

  it("is seeded: the same seed gives the same decisions, another seed others", () => {
    const msgs = messagesFor(5, 100, (h, s) => 1 + ((h + s) % 2));
    const cfg = { hosts: 5, loss: 0.1, duplicate: 0.1, reorder: 0.1, reorderDepth: 3 };
    const a = play({ seed: 42, ...cfg }, msgs).emitted.map((d) => d.token);
    const b = play({ seed: 42, ...cfg }, msgs).emitted.map((d) => d.token);
    const c = play({ seed: 43, ...cfg }, msgs).emitted.map((d) => d.token);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it("counts a lost fragment once as a missing message", () => {
    const msgs: Message[] = [{ host: 0, seq: 5, fragments: 50 }];
    const { plan } = play(
      { seed: 3, hosts: 1, loss: 0.5, duplicate: 0, reorder: 0, reorderDepth: 1 },
      msgs,
    );
    assert.ok(plan.truth.lost > 1);
    assert.equal(plan.truth.expected.missing, 1);
    assert.equal(plan.truth.expected.messagesDelivered, 0);
  });

  it("records every impaired datagram when asked (for --truth)", () => {
    const msgs = messagesFor(3, 100, () => 1);
    const { plan } = play(
      {
        seed: 9,
        hosts: 3,
        loss: 0.1,
        duplicate: 0.1,
        reorder: 0.1,
        reorderDepth: 2,
        recordEvents: true,
      },
      msgs,
    );
    const count = (kind: string) => plan.events.filter((e) => e.kind === kind).length;
    assert.equal(count("lost"), plan.truth.lost);
    assert.equal(count("duplicated"), plan.truth.duplicated);
    assert.equal(count("reordered"), plan.truth.reordered);
  });
});

describe("pacing schedule", () => {
  it("constant rate: slot k is due at k / rate", () => {
    const s = new Schedule({ ratePps: 50_000 });
    assert.equal(s.timeOfSlotUs(0), 0);
    assert.equal(s.timeOfSlotUs(50_000), 1_000_000);
    assert.equal(s.slotsDueBy(0), 1);
    assert.equal(s.slotsDueBy(999_999), 50_000);
    assert.equal(s.slotsDueBy(1_000_000), 50_001);
    assert.equal(s.averageRatePps(10_000_000), 50_000);
  });

  it("unpaced: everything is due at once", () => {
    const s = new Schedule({ ratePps: 0 });
    assert.equal(s.paced, false);
    assert.equal(s.slotsDueBy(0), Number.POSITIVE_INFINITY);
  });

  it("ramp: the count issued follows the integral of the rate, then the end rate", () => {
    const s = new Schedule({ ratePps: 0, ramp: { fromPps: 1000, toPps: 3000, overUs: 2_000_000 } });
    // Average 2000 pps over 2 s = 4000 slots, then 3000 pps.
    assert.equal(s.slotsDueBy(2_000_000 - 1), 4000);
    assert.ok(Math.abs(s.timeOfSlotUs(4000) - 2_000_000) < 1);
    assert.ok(Math.abs(s.timeOfSlotUs(7000) - 3_000_000) < 1);
    // Halfway the rate is 2000 pps: slots are ~500 µs apart.
    const k = s.slotsDueBy(1_000_000);
    assert.ok(Math.abs(s.timeOfSlotUs(k + 1) - s.timeOfSlotUs(k) - 500) < 1);
    const down = new Schedule({ ratePps: 0, ramp: { fromPps: 3000, toPps: 0, overUs: 1_000_000 } });
    assert.equal(down.timeOfSlotUs(1_000_000), Number.POSITIVE_INFINITY);
  });

  it("bursts share one intended time and keep the average rate", () => {
    const s = new Schedule({ ratePps: 1000, burst: 10 });
    for (let k = 0; k < 10; k++) assert.equal(s.timeOfSlotUs(k), 0);
    assert.equal(s.timeOfSlotUs(10), 10_000);
    assert.equal(s.slotsDueBy(0), 10);
    assert.equal(s.slotsDueBy(9_999), 10);
    assert.equal(s.slotsDueBy(10_000), 20);
  });

  it("is consistent: slot k is due exactly from its own time on, for any shape", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200_000 }),
        fc.integer({ min: 0, max: 200_000 }),
        fc.integer({ min: 1, max: 5_000_000 }),
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 0, max: 100_000 }),
        (from, to, overUs, burst, k) => {
          const s = new Schedule({ ratePps: 0, ramp: { fromPps: from, toPps: to, overUs }, burst });
          const t = s.timeOfSlotUs(k);
          if (!Number.isFinite(t)) return;
          assert.ok(s.slotsDueBy(t) > k);
          assert.ok(s.timeOfSlotUs(k + 1) >= t);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("pacer", () => {
  const T0 = 1_000_000;

  it("sends what is due in one batch, then wakes one quantum on at the earliest", () => {
    // 10,000/s: a slot every 100 µs; a 200 µs quantum gives 2 slots per wake-up.
    const pacer = new Pacer(new Schedule({ ratePps: 10_000 }), T0, 200);
    assert.equal(pacer.due(T0 - 1, 256), 0);
    assert.equal(pacer.due(T0, 256), 1); // slot 0 is due at the start
    assert.equal(pacer.intendedUs(), T0);
    pacer.advance(1);
    // The next slot is at +100 µs, but the next batch is only worth it at +200 µs.
    assert.equal(pacer.wakeUs(), T0 + 200);
    assert.equal(pacer.due(T0 + 200, 256), 2); // slots 1 and 2 (100 and 200 µs)
    assert.equal(pacer.intendedUs(), T0 + 100); // each keeps its own intended time
    pacer.advance(2);
    assert.equal(pacer.intendedUs(), T0 + 300);
    assert.equal(pacer.wakeUs(), T0 + 400);
  });

  it("wakes at the next slot when slots are further apart than a quantum", () => {
    const pacer = new Pacer(new Schedule({ ratePps: 1000 }), T0, 200); // every 1 ms
    assert.equal(pacer.due(T0, 256), 1);
    pacer.advance(1);
    assert.equal(pacer.wakeUs(), T0 + 1000);
    assert.equal(pacer.due(T0 + 999, 256), 0);
    assert.equal(pacer.due(T0 + 1000, 256), 1);
  });

  it("caps a batch, and catches up batch by batch when it fell behind", () => {
    const pacer = new Pacer(new Schedule({ ratePps: 1_000_000 }), T0, 200);
    assert.equal(pacer.due(T0 + 999, 256), 256); // 1,000 slots due: one batch of 256
    pacer.advance(256);
    assert.equal(pacer.due(T0 + 999, 256), 256);
    pacer.advance(256);
    assert.equal(pacer.due(T0 + 999, 1000), 488);
  });

  it("resumes after a pause without a catch-up burst", () => {
    const pacer = new Pacer(new Schedule({ ratePps: 10_000 }), T0, 0);
    pacer.due(T0, 256);
    pacer.advance(1);
    // A storm held the schedule for 50 ms: the next slot moves to now instead of 500 slots due.
    pacer.resume(T0 + 50_000);
    assert.equal(pacer.intendedUs(), T0 + 50_000);
    assert.equal(pacer.due(T0 + 50_000, 256), 1);
  });
});
