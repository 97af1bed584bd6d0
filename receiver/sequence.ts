/**
 * Per-host sequence tracking with ncrx semantics (netconsd's receive library), pure: no
 * sockets, no threads, no clocks. Every call takes `nowMs`; `nextDeadline()` says when
 * `expire()` next has work, like ncrx's "when do I need to be called again".
 *
 * Two kinds of figures come out of it:
 * - the exact counters the impairment oracle compares with the blaster's truth:
 *   `missing` (seqs inside [first, last] of a host's stream that never completed), `outOfOrder`
 *   (a new seq below the highest completed seq of that host), `duplicates` (a seq already
 *   completed), `resets` (the first message of a host, as ncrx flags `seq_reset`, and every
 *   later restart of its stream);
 * - ncrx's timed outcomes, as extra counters: holes given up after `msgTimeoutMs` (or because
 *   the ring is nearly full), messages held behind a hole, late arrivals for a hole already
 *   given up, out-of-sequence messages (more than `window` away) emitted after `oosTimeoutMs`,
 *   and streams reset because 19 of the last 32 messages were out of sequence.
 *
 * State is struct-of-arrays in typed arrays, so one host costs a few hundred bytes (netconsd's
 * ncrx state is about 21 KB per host): a `window`-bit ring of completed seqs (ncrx's slots), the
 * stream bounds, the in-order delivery point ("tail"), up to MARKS hole-opening times, and an
 * LRU link for eviction. Hosts are evicted when idle for `hostIdleMs` or, when the table is full,
 * least recently seen first; their figures are folded into the totals first, so nothing is lost.
 *
 * Hosts are found by their address bytes (receiver/host-table.ts): the worker's per-datagram path
 * calls acquire() and observeSlot() and makes no string; the string methods (observe, touch, host,
 * edgeMissing) are for tests, benchmarks and the end-of-run truth.
 */
import { HostTable, hashBytes, KEY_BYTES } from "./host-table.ts";

export interface SequenceOptions {
  /** Slots per host: seqs more than this away from the highest are out of sequence (netconsd: 512). */
  window?: number;
  /** A hole is given up after this long (netconsd: 200 ms). */
  msgTimeoutMs?: number;
  /** Out-of-sequence messages are emitted after this long (netconsd: 200 ms). */
  oosTimeoutMs?: number;
  /** Most hosts tracked at once; the least recently seen is evicted for a new one. */
  maxHosts?: number;
  /** A host silent this long is evicted by expire(); 0 = only when the table is full. */
  hostIdleMs?: number;
}

export const SEQUENCE_COUNTERS = [
  "messages",
  "missing",
  "outOfOrder",
  "duplicates",
  "resets",
  "emergency",
  "stale",
  "heldBehindHole",
  "holesGivenUp",
  "holesForced",
  "lateAfterGiveUp",
  "outOfSequence",
  "oosEmitted",
  "oosResets",
  "hosts",
  "hostsEvicted",
] as const;
export type SequenceCounter = (typeof SEQUENCE_COUNTERS)[number];
export type SequenceCounters = Record<SequenceCounter, number>;

/** What observe() decided about one message. */
export const Outcome = {
  /** The next or a higher seq: a new message. */
  inOrder: 0,
  /** A new seq below the highest completed one. */
  outOfOrder: 1,
  /** A seq already completed: dropped, as ncrx does. */
  duplicate: 2,
  /** First message of a host, or a restarted stream. */
  reset: 3,
  /** More than `window` away from the highest seq (ncrx's "oos"). */
  outOfSequence: 4,
  /** Older than the window: cannot tell a duplicate from a very late message (counted as stale). */
  stale: 5,
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/** Hole-opening times kept per host; beyond this many pending openings the newest absorbs the next. */
const MARKS = 4;
/** ncrx resets a stream when this many of the last 32 messages were out of sequence. */
const OOS_RESET_THRESHOLD = 19;
const NONE = -1;

function popcount32(v: number): number {
  let x = (v | 0) - ((v >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

export class SequenceTracker {
  readonly window: number;
  readonly msgTimeoutMs: number;
  readonly oosTimeoutMs: number;
  readonly maxHosts: number;
  readonly hostIdleMs: number;
  readonly counters: SequenceCounters;

  private readonly words: number;
  private readonly forceGap: number;
  private readonly table = new HostTable();
  /** Whether the last acquire() inserted the host. */
  acquiredNew = false;
  private capacity = 0;
  private used = 0;
  private freeSlots: number[] = [];
  // Per-host fields, indexed by slot.
  private first = new Float64Array(0); // lowest seq of the current stream segment
  private max = new Float64Array(0); // highest completed seq
  private distinct = new Float64Array(0); // distinct seqs completed in the segment
  private tail = new Float64Array(0); // next seq in-order delivery waits for (ncrx's tail)
  private lastSeen = new Float64Array(0);
  private oosSince = new Float64Array(0); // arrival time of the oldest pending oos message
  private oosPending = new Int32Array(0);
  private oosHistory = new Int32Array(0); // 1 bit per recent message: was it out of sequence
  private markCount = new Int32Array(0);
  private markSeq = new Float64Array(0); // MARKS per host: holes up to this seq opened at...
  private markTime = new Float64Array(0); // ...this time
  private bits = new Int32Array(0); // `words` per host: ring of completed seqs (max-window, max]
  private prev = new Int32Array(0); // LRU list, most recent at head
  private next = new Int32Array(0);
  private lruHead = NONE;
  private lruTail = NONE;
  /** Hosts with open holes or pending oos messages: the only ones expire() must look at. */
  private readonly attention = new Set<number>();

  constructor(options: SequenceOptions = {}) {
    const window = options.window ?? 512;
    if (!Number.isInteger(window) || window < 32 || window % 32 !== 0) {
      throw new RangeError(`window must be a multiple of 32 from 32 up, got ${window}`);
    }
    this.window = window;
    this.words = window / 32;
    // Like ncrx (nr_slots - retx_stride): holes are forced out before the ring wraps onto them.
    this.forceGap = window - Math.max(1, window >> 2);
    this.msgTimeoutMs = options.msgTimeoutMs ?? 200;
    this.oosTimeoutMs = options.oosTimeoutMs ?? 200;
    this.maxHosts = options.maxHosts ?? 1_000_000;
    this.hostIdleMs = options.hostIdleMs ?? 0;
    const counters = {} as SequenceCounters;
    for (const name of SEQUENCE_COUNTERS) counters[name] = 0;
    this.counters = counters;
  }

  /** Hosts tracked now. */
  get size(): number {
    return this.used;
  }

  has(host: string): boolean {
    return this.slotOfText(host) >= 0;
  }

  /**
   * The slot of the host whose address text is bytes[at, at + length), inserted (counted as a
   * host, evicting the least recently seen one when the table is full) when new; either way it is
   * marked as seen now. The slot stays the host's until it is evicted (onEvictSlot). Allocates
   * nothing once the table has grown to the hosts seen.
   */
  acquire(bytes: Uint8Array, at: number, length: number, nowMs: number): number {
    const hash = hashBytes(bytes, at, length);
    let slot = this.table.find(bytes, at, length, hash);
    if (slot < 0) {
      slot = this.insert(nowMs);
      this.table.insert(bytes, at, length, hash, slot);
      this.acquiredNew = true;
      return slot;
    }
    this.acquiredNew = false;
    this.lastSeen[slot] = nowMs;
    this.moveToFront(slot);
    return slot;
  }

  /** acquire() by the address text. */
  acquireText(host: string, nowMs: number): number {
    const { bytes, length } = this.table.scratchOf(host);
    return this.acquire(bytes, 0, length, nowMs);
  }

  /** The address text of a tracked host's slot. */
  keyOf(slot: number): string {
    return this.table.keyOf(slot);
  }

  /**
   * Notes activity of a host that has no sequence numbers (legacy text), so it counts as a host
   * and takes part in idle eviction. Returns false when the host is new.
   */
  touch(host: string, nowMs: number): boolean {
    this.acquireText(host, nowMs);
    return !this.acquiredNew;
  }

  /** One completed extended message: its host, seq, ncemg flag and arrival time. */
  observe(host: string, seq: number, emergency: boolean, nowMs: number): Outcome {
    return this.observeSlot(this.acquireText(host, nowMs), seq, emergency, nowMs);
  }

  /** observe() for a host already acquire()d for this message. */
  observeSlot(slot: number, seq: number, emergency: boolean, nowMs: number): Outcome {
    const c = this.counters;
    if (emergency) c.emergency++;
    if (Number.isNaN(this.max[slot])) {
      // New, or known from legacy traffic or fragments only: its sequenced stream starts now.
      this.startSegment(slot, seq);
      c.messages++;
      c.resets++;
      return Outcome.reset;
    }

    const max = this.max[slot];
    const window = this.window;
    if (!emergency && (seq > max + window || seq < max - window)) {
      return this.outOfSequence(slot, seq, nowMs);
    }
    this.oosHistory[slot] <<= 1; // this one is in sequence

    if (seq > max) {
      // Before the ring moves on, give up the holes it would wrap onto (ncrx: nr_slots - retx_stride).
      this.forceTail(slot, seq - this.forceGap);
      this.advance(slot, max, seq, nowMs);
      c.messages++;
      this.distinct[slot]++;
      this.deliverFromTail(slot);
      if (this.tail[slot] <= seq) {
        c.heldBehindHole++; // ncrx keeps it until the hole before it fills or times out
        this.attention.add(slot);
      }
      return Outcome.inOrder;
    }
    if (seq <= max - window) {
      c.stale++;
      return Outcome.stale;
    }
    if (this.testBit(slot, seq)) {
      c.duplicates++;
      return Outcome.duplicate;
    }
    this.setBit(slot, seq);
    c.messages++;
    c.outOfOrder++;
    this.distinct[slot]++;
    if (seq < this.first[slot]) {
      this.first[slot] = seq; // arrived before the first one we saw: the stream began earlier
    } else if (seq < this.tail[slot]) {
      c.lateAfterGiveUp++;
    } else if (seq === this.tail[slot]) {
      this.deliverFromTail(slot);
    }
    return Outcome.outOfOrder;
  }

  /**
   * Gives up holes older than msgTimeoutMs, emits out-of-sequence messages older than
   * oosTimeoutMs, and evicts hosts idle for hostIdleMs.
   */
  expire(nowMs: number): void {
    for (const slot of this.attention) {
      this.expireHoles(slot, nowMs);
      if (this.oosPending[slot] > 0 && nowMs - this.oosSince[slot] >= this.oosTimeoutMs) {
        this.counters.oosEmitted += this.oosPending[slot];
        this.oosPending[slot] = 0;
      }
      if (this.oosPending[slot] === 0 && this.tail[slot] > this.max[slot]) {
        this.attention.delete(slot);
      }
    }
    if (this.hostIdleMs > 0) {
      while (this.lruTail !== NONE && nowMs - this.lastSeen[this.lruTail] >= this.hostIdleMs) {
        this.evict(this.lruTail);
      }
    }
  }

  /** The earliest time at which expire() has something to do, or Infinity. */
  nextDeadline(): number {
    let at = Number.POSITIVE_INFINITY;
    for (const slot of this.attention) {
      if (this.tail[slot] <= this.max[slot]) {
        at = Math.min(at, this.holeOpenedAt(slot, this.tail[slot]) + this.msgTimeoutMs);
      }
      if (this.oosPending[slot] > 0) at = Math.min(at, this.oosSince[slot] + this.oosTimeoutMs);
    }
    if (this.hostIdleMs > 0 && this.lruTail !== NONE) {
      at = Math.min(at, this.lastSeen[this.lruTail] + this.hostIdleMs);
    }
    return at;
  }

  /**
   * The counters with `missing` including the hosts still tracked (their open holes count as
   * missing: they never completed). Does not change the state.
   */
  totals(): SequenceCounters {
    const out = { ...this.counters };
    for (let slot = this.lruHead; slot !== NONE; slot = this.next[slot]) {
      out.missing += this.segmentMissing(slot);
    }
    return out;
  }

  /** Per-host figures of a tracked host (tests, debugging). */
  host(
    host: string,
  ): { first: number; max: number; distinct: number; tail: number; missing: number } | undefined {
    const slot = this.slotOfText(host);
    if (slot < 0) return undefined;
    return {
      first: this.first[slot],
      max: this.max[slot],
      distinct: this.distinct[slot],
      tail: this.tail[slot],
      missing: this.segmentMissing(slot),
    };
  }

  /**
   * Missing seqs at the edges, which only the sender's truth can reveal: the host sent
   * [firstSeq, lastSeq] but the stream we saw began later or ended earlier. Null when the host is
   * not tracked (never seen, or evicted).
   */
  edgeMissing(host: string, firstSeq: number, lastSeq: number): number | null {
    const slot = this.slotOfText(host);
    if (slot < 0 || Number.isNaN(this.max[slot])) return null;
    return Math.max(0, this.first[slot] - firstSeq) + Math.max(0, lastSeq - this.max[slot]);
  }

  /** Typed-array bytes of state per tracked host, host table included (not a key string). */
  static bytesPerHost(window = 512): number {
    // first, max, distinct, tail, lastSeen, oosSince; oosPending, oosHistory, markCount, prev, next;
    // the host table's key bytes, hash, length, chain link and bucket.
    return 6 * 8 + 5 * 4 + MARKS * 16 + window / 8 + KEY_BYTES + 4 + 1 + 4 + 4;
  }

  // ---- internals ----------------------------------------------------------------------------

  private slotOfText(host: string): number {
    const { bytes, length } = this.table.scratchOf(host);
    return this.table.find(bytes, 0, length, hashBytes(bytes, 0, length));
  }

  private segmentMissing(slot: number): number {
    if (Number.isNaN(this.max[slot])) return 0;
    return this.max[slot] - this.first[slot] + 1 - this.distinct[slot];
  }

  private outOfSequence(slot: number, seq: number, nowMs: number): Outcome {
    const c = this.counters;
    c.messages++;
    c.outOfSequence++;
    const history = (this.oosHistory[slot] << 1) | 1;
    this.oosHistory[slot] = history;
    if (popcount32(history) >= OOS_RESET_THRESHOLD) {
      // The host restarted its stream (reboot, seq jump): close the old segment, start anew.
      // The pending oos messages are taken into the new stream rather than emitted as oos.
      c.missing += this.segmentMissing(slot);
      c.resets++;
      c.oosResets++;
      this.oosPending[slot] = 0;
      this.startSegment(slot, seq);
      return Outcome.reset;
    }
    if (this.oosPending[slot] === 0) this.oosSince[slot] = nowMs;
    this.oosPending[slot]++;
    this.attention.add(slot);
    return Outcome.outOfSequence;
  }

  /** Moves the highest seq from `max` up to `seq`, clearing ring slots that now mean new seqs. */
  private advance(slot: number, max: number, seq: number, nowMs: number): void {
    const base = slot * this.words;
    if (seq - max >= this.window) {
      this.bits.fill(0, base, base + this.words);
    } else {
      for (let s = max + 1; s < seq; s++) this.clearBit(slot, s);
    }
    this.setBit(slot, seq);
    this.max[slot] = seq;
    // Holes max+1 .. seq-1 open now: remember when, for msgTimeout.
    if (seq > max + 1) this.addMark(slot, seq - 1, nowMs);
  }

  private addMark(slot: number, upTo: number, nowMs: number): void {
    const n = this.markCount[slot];
    const at = slot * MARKS;
    if (n < MARKS) {
      this.markSeq[at + n] = upTo;
      this.markTime[at + n] = nowMs;
      this.markCount[slot] = n + 1;
    } else {
      // Full: the newest mark absorbs these holes (they are then given up a little early).
      this.markSeq[at + n - 1] = upTo;
    }
  }

  /** When the hole at `seq` opened: the first mark that covers it. */
  private holeOpenedAt(slot: number, seq: number): number {
    const at = slot * MARKS;
    const n = this.markCount[slot];
    for (let k = 0; k < n; k++) if (this.markSeq[at + k] >= seq) return this.markTime[at + k];
    return Number.NEGATIVE_INFINITY;
  }

  /** Drops marks wholly below the tail. */
  private trimMarks(slot: number): void {
    const at = slot * MARKS;
    const n = this.markCount[slot];
    let k = 0;
    while (k < n && this.markSeq[at + k] < this.tail[slot]) k++;
    if (k === 0) return;
    for (let j = k; j < n; j++) {
      this.markSeq[at + j - k] = this.markSeq[at + j];
      this.markTime[at + j - k] = this.markTime[at + j];
    }
    this.markCount[slot] = n - k;
  }

  private deliverFromTail(slot: number): void {
    let tail = this.tail[slot];
    const max = this.max[slot];
    while (tail <= max && this.testBit(slot, tail)) tail++;
    this.tail[slot] = tail;
    this.trimMarks(slot);
  }

  private expireHoles(slot: number, nowMs: number): void {
    const max = this.max[slot];
    let tail = this.tail[slot];
    while (tail <= max) {
      if (this.testBit(slot, tail)) {
        tail++;
        continue;
      }
      if (nowMs - this.holeOpenedAt(slot, tail) < this.msgTimeoutMs) break;
      this.counters.holesGivenUp++;
      tail++;
    }
    this.tail[slot] = tail;
    this.trimMarks(slot);
  }

  /**
   * Moves the tail up to `target`, giving up every hole on the way. O(window) whatever the jump:
   * only the seqs up to max are looked at in the ring (the tail never lags max by more than
   * forceGap); every seq above max is a hole, counted in one step.
   */
  private forceTail(slot: number, target: number): void {
    let tail = this.tail[slot];
    if (tail >= target) return;
    const walkEnd = Math.min(target, this.max[slot] + 1);
    let given = 0;
    for (; tail < walkEnd; tail++) if (!this.testBit(slot, tail)) given++;
    if (tail < target) {
      given += target - tail;
      tail = target;
    }
    this.counters.holesGivenUp += given;
    this.counters.holesForced += given;
    this.tail[slot] = tail;
    this.trimMarks(slot);
  }

  private startSegment(slot: number, seq: number): void {
    const base = slot * this.words;
    this.bits.fill(0, base, base + this.words);
    this.first[slot] = seq;
    this.max[slot] = seq;
    this.distinct[slot] = 1;
    this.tail[slot] = seq + 1;
    this.markCount[slot] = 0;
    this.oosHistory[slot] = 0;
    this.setBit(slot, seq);
  }

  /** A slot for a new host, its stream not started yet; the caller files it in the table. */
  private insert(nowMs: number): number {
    if (this.used >= this.maxHosts && this.lruTail !== NONE) this.evict(this.lruTail);
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      if (this.used >= this.capacity) this.grow();
      slot = this.used;
    }
    this.used++;
    this.counters.hosts++;
    this.lastSeen[slot] = nowMs;
    this.oosPending[slot] = 0;
    this.max[slot] = Number.NaN;
    this.markCount[slot] = 0;
    this.oosHistory[slot] = 0;
    this.prev[slot] = NONE;
    this.next[slot] = this.lruHead;
    if (this.lruHead !== NONE) this.prev[this.lruHead] = slot;
    this.lruHead = slot;
    if (this.lruTail === NONE) this.lruTail = slot;
    return slot;
  }

  /**
   * Called with the key of every host evicted, so owners of other per-host state can free it too
   * (makes the key string; the worker uses onEvictSlot).
   */
  onEvict: ((host: string) => void) | undefined;
  /** Called with the slot of every host evicted, before the slot can be reused. */
  onEvictSlot: ((slot: number) => void) | undefined;

  private evict(slot: number): void {
    const host = this.onEvict ? this.table.keyOf(slot) : "";
    const c = this.counters;
    c.missing += this.segmentMissing(slot);
    // Pending oos messages would have been emitted had the host stayed: count them as such.
    c.oosEmitted += this.oosPending[slot];
    c.hostsEvicted++;
    this.unlink(slot);
    this.table.remove(slot);
    this.attention.delete(slot);
    this.freeSlots.push(slot);
    this.used--;
    this.onEvictSlot?.(slot);
    this.onEvict?.(host);
  }

  private unlink(slot: number): void {
    const p = this.prev[slot];
    const n = this.next[slot];
    if (p !== NONE) this.next[p] = n;
    else this.lruHead = n;
    if (n !== NONE) this.prev[n] = p;
    else this.lruTail = p;
  }

  private moveToFront(slot: number): void {
    if (this.lruHead === slot) return;
    this.unlink(slot);
    this.prev[slot] = NONE;
    this.next[slot] = this.lruHead;
    if (this.lruHead !== NONE) this.prev[this.lruHead] = slot;
    this.lruHead = slot;
    if (this.lruTail === NONE) this.lruTail = slot;
  }

  /** Doubles the per-host arrays (up to maxHosts), so memory follows the hosts actually seen. */
  private grow(): void {
    const capacity = Math.min(this.maxHosts, Math.max(64, this.capacity * 2));
    const f64 = (old: Float64Array, per = 1) => {
      const a = new Float64Array(capacity * per);
      a.set(old);
      return a;
    };
    const i32 = (old: Int32Array, per = 1) => {
      const a = new Int32Array(capacity * per);
      a.set(old);
      return a;
    };
    this.first = f64(this.first);
    this.max = f64(this.max);
    this.distinct = f64(this.distinct);
    this.tail = f64(this.tail);
    this.lastSeen = f64(this.lastSeen);
    this.oosSince = f64(this.oosSince);
    this.oosPending = i32(this.oosPending);
    this.oosHistory = i32(this.oosHistory);
    this.markCount = i32(this.markCount);
    this.markSeq = f64(this.markSeq, MARKS);
    this.markTime = f64(this.markTime, MARKS);
    this.bits = i32(this.bits, this.words);
    this.prev = i32(this.prev);
    this.next = i32(this.next);
    this.table.grow(capacity);
    this.capacity = capacity;
  }

  private bitIndex(seq: number): number {
    // seq may exceed 2^32: take the remainder in floating point, then it fits an int.
    return seq % this.window;
  }

  private testBit(slot: number, seq: number): boolean {
    const i = this.bitIndex(seq);
    return (this.bits[slot * this.words + (i >>> 5)] & (1 << (i & 31))) !== 0;
  }

  private setBit(slot: number, seq: number): void {
    const i = this.bitIndex(seq);
    this.bits[slot * this.words + (i >>> 5)] |= 1 << (i & 31);
  }

  private clearBit(slot: number, seq: number): void {
    const i = this.bitIndex(seq);
    this.bits[slot * this.words + (i >>> 5)] &= ~(1 << (i & 31));
  }
}
