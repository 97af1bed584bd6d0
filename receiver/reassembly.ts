/**
 * Reassembly of `ncfrag` fragments into whole extended records, keyed by (source, seq).
 *
 * Bytes are placed exactly at their offset, so fragments may come in any order, twice, or
 * overlapping. Memory follows the bytes actually received, never a declared total: each fragment
 * that brings new bytes is kept as a copy of its chunk and charged its length plus
 * CHUNK_OVERHEAD_BYTES (a message is charged PENDING_OVERHEAD_BYTES more); the whole record is
 * put together only when its last byte arrives. What is held is bounded three ways:
 * - per source, `maxPendingBytesPerSource` (at least one message of the largest accepted total
 *   fits; the oldest incomplete message of that source is given up first);
 * - in all, `maxPendingBytes` (the oldest incomplete message of any source is given up first);
 * - in time, `timeoutMs` (expire() gives up what is older).
 * The receiver keys sources by their host slot, so a source whose host is evicted (--max-hosts,
 * --host-idle) is forgotten with it. Every message given up counts as incomplete.
 *
 * Pure: time is a parameter (`nowMs`), no timers, no clocks.
 */
import {
  DatagramView,
  DEFAULT_MAX_MESSAGE_BYTES,
  type DecodedExtended,
  parseData,
  type RecordHead,
} from "./decode.ts";

export interface ReassemblyOptions {
  /** Largest message total accepted (bytes of data). */
  maxMessageBytes?: number;
  /**
   * Bytes of incomplete messages one source may hold. Default: the larger of 256 KiB and what one
   * message of maxMessageBytes costs; a smaller value than that is refused (RangeError).
   */
  maxPendingBytesPerSource?: number;
  /** Bytes of incomplete messages held over all sources (default 64 MiB). */
  maxPendingBytes?: number;
  /** An incomplete message older than this is given up. */
  timeoutMs?: number;
  /** How many completed seqs per source are remembered to recognise late duplicate fragments. */
  rememberCompleted?: number;
}

export interface ReassemblyCounters {
  /** Fragments accepted (duplicates included). */
  fragments: number;
  /** Messages completed. */
  reassembled: number;
  /** Fragments whose bytes had all been received already (or whose message was complete). */
  duplicateFragments: number;
  /** Messages given up: timed out, evicted for room, or left at the end. */
  incomplete: number;
  /** Fragments refused: total above the cap or different from the message's first fragment. */
  overLimit: number;
}

/** What one pending message costs beyond its chunks (map and set entries, range list, header). */
export const PENDING_OVERHEAD_BYTES = 256;
/** What one kept chunk costs beyond its bytes (the Buffer object and its list entries). */
export const CHUNK_OVERHEAD_BYTES = 96;
const DEFAULT_PER_SOURCE_BYTES = 256 * 1024;
const DEFAULT_TOTAL_BYTES = 64 * 1024 * 1024;

/** A source key: the receiver's host slot, or a name (tests, `decode`). */
export type ReassemblyKey = string | number;

/** The header fields of a message, taken from its first fragment. */
export type FragmentHead = RecordHead;

interface Pending {
  state: SourceState;
  seq: number;
  total: number;
  /** Copies of the chunks that brought new bytes, with their offsets, in arrival order. */
  chunks: Buffer[];
  offsets: number[];
  /** Covered byte ranges, sorted and merged: [start0, end0, start1, end1, ...]. */
  covered: number[];
  received: number;
  /** Bytes charged for this message. */
  cost: number;
  /** Fragments that brought new bytes (duplicates not counted). */
  fragments: number;
  firstMs: number;
  head: FragmentHead;
}

interface SourceState {
  key: ReassemblyKey;
  pending: Map<number, Pending>;
  pendingBytes: number;
  /** Ring of recently completed seqs. */
  completed: number[];
  completedAt: number;
}

/** Copies the header fields of `source` into `head`. */
function fillHead(head: FragmentHead, source: DecodedExtended | DatagramView): void {
  head.release = source instanceof DatagramView ? source.release() : source.release;
  head.caller = source instanceof DatagramView ? source.caller() : source.caller;
  head.facility = source.facility;
  head.level = source.level;
  head.seq = source.seq;
  head.tsUs = source.tsUs;
  head.flags.contStart = source.flags.contStart;
  head.flags.cont = source.flags.cont;
  head.flags.emg = source.flags.emg;
}

/**
 * Spare message and source records kept for reuse: under a flood of fragment-only sources the
 * records would otherwise all live long enough to be promoted and then die, which makes V8 grow
 * its heap far past what is live.
 */
const SPARES = 4096;

export class Reassembler {
  readonly counters: ReassemblyCounters = {
    fragments: 0,
    reassembled: 0,
    duplicateFragments: 0,
    incomplete: 0,
    overLimit: 0,
  };
  readonly maxMessageBytes: number;
  readonly maxPendingBytesPerSource: number;
  readonly maxPendingBytes: number;
  private readonly sources = new Map<ReassemblyKey, SourceState>();
  private readonly timeoutMs: number;
  private readonly rememberCompleted: number;
  private readonly spareMessages: Pending[] = [];
  private readonly spareStates: SourceState[] = [];
  /** Every pending message, oldest first (insertion order). */
  private readonly order = new Set<Pending>();
  private held = 0;
  /** How many fragments built the message the last add() completed (its datagrams, for output). */
  completedFragments = 0;
  /** The header of the message the last add()/addView() completed (valid until the next one). */
  completedHead: FragmentHead | null = null;

  constructor(options: ReassemblyOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    const oneMessage = Reassembler.messageCost(this.maxMessageBytes);
    this.maxPendingBytesPerSource =
      options.maxPendingBytesPerSource ?? Math.max(DEFAULT_PER_SOURCE_BYTES, oneMessage);
    this.maxPendingBytes =
      options.maxPendingBytes ?? Math.max(DEFAULT_TOTAL_BYTES, this.maxPendingBytesPerSource);
    if (this.maxPendingBytesPerSource < oneMessage || this.maxPendingBytes < oneMessage) {
      throw new RangeError(
        `pending-bytes limits (${this.maxPendingBytesPerSource} per source, ${this.maxPendingBytes} in all) must hold one message of maxMessageBytes ${this.maxMessageBytes} (${oneMessage} bytes with overheads)`,
      );
    }
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.rememberCompleted = options.rememberCompleted ?? 32;
  }

  /**
   * The most one message of `total` bytes can be charged when it arrives in the fewest
   * fragments a kernel uses (1000-byte datagrams): its bytes, its overhead and one chunk
   * overhead per KiB. Smaller fragments cost more; those are bounded by the caps, not promised.
   */
  static messageCost(total: number): number {
    return total + PENDING_OVERHEAD_BYTES + Math.ceil(total / 900) * CHUNK_OVERHEAD_BYTES;
  }

  /** Incomplete messages currently held, over all sources. */
  get pending(): number {
    return this.order.size;
  }

  /** Bytes charged for incomplete messages, over all sources (<= maxPendingBytes). */
  get heldBytes(): number {
    return this.held;
  }

  /** Bytes charged for one source's incomplete messages (<= maxPendingBytesPerSource). */
  heldBytesOf(key: ReassemblyKey): number {
    return this.sources.get(key)?.pendingBytes ?? 0;
  }

  /** The most bytes any one source holds now (a walk over the sources: tests, benchmarks). */
  largestSourceBytes(): number {
    let most = 0;
    for (const state of this.sources.values()) most = Math.max(most, state.pendingBytes);
    return most;
  }

  /** Sources with reassembly state. */
  get sourceCount(): number {
    return this.sources.size;
  }

  /**
   * Adds one fragment. Returns the whole message (fragment undefined, data/text/dict filled) when
   * this fragment completes it, otherwise null.
   */
  add(source: ReassemblyKey, fragment: DecodedExtended, nowMs: number): DecodedExtended | null {
    const frag = fragment.fragment;
    if (!frag) return fragment;
    const data = fragment.data;
    const whole = this.accept(
      source,
      fragment,
      frag.offset,
      frag.total,
      data,
      0,
      data.length,
      nowMs,
    );
    if (whole === null) return null;
    const { text, dict } = parseData(whole);
    // A copy: the head (and its flags) belong to a record that is reused.
    const head = this.completedHead!;
    return { kind: "extended", ...head, flags: { ...head.flags }, data: whole, text, dict };
  }

  /**
   * add() for a decoded view (the receiver's path): returns the whole record's data when this
   * fragment completes it (its header in completedHead), otherwise null.
   */
  addView(source: ReassemblyKey, view: DatagramView, nowMs: number): Buffer | null {
    return this.accept(
      source,
      view,
      view.fragOffset,
      view.fragTotal,
      view.bytes,
      view.dataStart,
      view.dataEnd,
      nowMs,
    );
  }

  private accept(
    source: ReassemblyKey,
    header: DecodedExtended | DatagramView,
    offset: number,
    total: number,
    bytes: Uint8Array,
    start: number,
    end: number,
    nowMs: number,
  ): Buffer | null {
    const length = end - start;
    if (total > this.maxMessageBytes || offset < 0 || offset + length > total) {
      this.counters.overLimit++;
      return null;
    }
    this.counters.fragments++;
    const seq = header.seq;
    let state = this.sources.get(source);
    if (!state) {
      state = this.spareStates.pop() ?? {
        key: source,
        pending: new Map(),
        pendingBytes: 0,
        completed: [],
        completedAt: 0,
      };
      state.key = source;
      this.sources.set(source, state);
    }
    let message = state.pending.get(seq);
    if (!message) {
      if (state.completed.includes(seq)) {
        this.counters.duplicateFragments++;
        return null;
      }
      const need = PENDING_OVERHEAD_BYTES + length + CHUNK_OVERHEAD_BYTES;
      if (!this.makeRoom(state, null, need)) {
        this.counters.overLimit++;
        return null;
      }
      message = this.spareMessages.pop() ?? {
        state,
        seq,
        total,
        chunks: [],
        offsets: [],
        covered: [],
        received: 0,
        cost: 0,
        fragments: 0,
        firstMs: 0,
        head: {
          facility: 0,
          level: 0,
          seq: 0,
          tsUs: 0,
          flags: { contStart: false, cont: false, emg: false },
        },
      };
      message.state = state;
      message.seq = seq;
      message.total = total;
      message.received = 0;
      message.cost = PENDING_OVERHEAD_BYTES;
      message.fragments = 0;
      message.firstMs = nowMs;
      fillHead(message.head, header);
      state.pending.set(seq, message);
      state.pendingBytes += PENDING_OVERHEAD_BYTES;
      this.held += PENDING_OVERHEAD_BYTES;
      this.order.add(message);
    } else if (message.total !== total) {
      this.counters.overLimit++; // a fragment that disagrees with its message's total
      return null;
    }
    const added = cover(message.covered, offset, offset + length);
    if (added === 0 && length > 0) {
      this.counters.duplicateFragments++;
      return null;
    }
    if (length > 0) {
      const charge = length + CHUNK_OVERHEAD_BYTES;
      if (!this.makeRoom(state, message, charge)) {
        this.drop(message); // this message alone would pass a cap (many overlapping chunks)
        return null;
      }
      const chunk = Buffer.allocUnsafe(length);
      if (Buffer.isBuffer(bytes)) bytes.copy(chunk, 0, start, end);
      else chunk.set(bytes.subarray(start, end));
      message.chunks.push(chunk);
      message.offsets.push(offset);
      message.cost += charge;
      state.pendingBytes += charge;
      this.held += charge;
    }
    message.received += added;
    message.fragments++;
    if (offset === 0 && message.fragments > 1) fillHead(message.head, header);
    if (message.received < total) return null;

    const whole = Buffer.allocUnsafe(total);
    for (let i = 0; i < message.chunks.length; i++)
      message.chunks[i].copy(whole, message.offsets[i]);
    this.release(message);
    this.rememberDone(state, seq);
    this.counters.reassembled++;
    this.completedFragments = message.fragments;
    this.completedHead = message.head;
    return whole;
  }

  /** Gives up every message that has waited longer than timeoutMs; returns how many. */
  expire(nowMs: number): number {
    let expired = 0;
    // Oldest first: the first one young enough ends the walk.
    for (const message of this.order) {
      if (nowMs - message.firstMs < this.timeoutMs) break;
      this.drop(message);
      expired++;
    }
    return expired;
  }

  /** Gives up everything still pending (end of run); returns how many. */
  flush(): number {
    let given = 0;
    for (const message of this.order) {
      this.drop(message);
      given++;
    }
    return given;
  }

  /** Forgets a source entirely (host evicted); its pending messages count as incomplete. */
  forget(source: ReassemblyKey): void {
    const state = this.sources.get(source);
    if (!state) return;
    for (const message of state.pending.values()) this.drop(message);
    this.sources.delete(source);
    state.completed.length = 0;
    state.completedAt = 0;
    state.pendingBytes = 0;
    if (this.spareStates.length < SPARES) this.spareStates.push(state);
  }

  /**
   * Gives up the oldest other messages until `need` more bytes fit both caps; false when they
   * cannot (only `except` is left to give up).
   */
  private makeRoom(state: SourceState, except: Pending | null, need: number): boolean {
    while (state.pendingBytes + need > this.maxPendingBytesPerSource) {
      let oldest: Pending | undefined;
      for (const m of state.pending.values()) {
        if (m !== except && (!oldest || m.firstMs < oldest.firstMs)) oldest = m;
      }
      if (!oldest) return false;
      this.drop(oldest);
    }
    while (this.held + need > this.maxPendingBytes) {
      let oldest: Pending | undefined;
      for (const m of this.order) {
        if (m !== except) {
          oldest = m;
          break;
        }
      }
      if (!oldest) return false;
      this.drop(oldest);
    }
    return true;
  }

  private drop(message: Pending): void {
    this.release(message);
    this.counters.incomplete++;
  }

  private release(message: Pending): void {
    const state = message.state;
    state.pending.delete(message.seq);
    state.pendingBytes -= message.cost;
    this.held -= message.cost;
    this.order.delete(message);
    message.chunks.length = 0;
    message.offsets.length = 0;
    message.covered.length = 0;
    if (this.spareMessages.length < SPARES) this.spareMessages.push(message);
  }

  private rememberDone(state: SourceState, seq: number): void {
    if (state.completed.length < this.rememberCompleted) {
      state.completed.push(seq);
    } else {
      state.completed[state.completedAt] = seq;
      state.completedAt = (state.completedAt + 1) % this.rememberCompleted;
    }
  }
}

/**
 * Adds [start, end) to a sorted, merged list of ranges (touching ranges merge); returns how many
 * bytes were new. The ranges it touches are found by binary search and replaced in one splice.
 */
export function cover(ranges: number[], start: number, end: number): number {
  if (end <= start) return 0;
  const pairs = ranges.length >> 1;
  // The common cases without a search: the first range, or one past or touching the last.
  if (pairs === 0 || start > ranges[ranges.length - 1]) {
    ranges.push(start, end);
    return end - start;
  }
  if (start === ranges[ranges.length - 1]) {
    ranges[ranges.length - 1] = end;
    return end - start;
  }
  // The first range that ends at or after `start`.
  let lo = 0;
  let hi = pairs;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[2 * mid + 1] < start) lo = mid + 1;
    else hi = mid;
  }
  let already = 0;
  let newStart = start;
  let newEnd = end;
  let j = lo;
  for (; j < pairs && ranges[2 * j] <= end; j++) {
    const a = ranges[2 * j];
    const b = ranges[2 * j + 1];
    already += Math.max(0, Math.min(b, end) - Math.max(a, start));
    if (a < newStart) newStart = a;
    if (b > newEnd) newEnd = b;
  }
  ranges.splice(2 * lo, 2 * (j - lo), newStart, newEnd);
  return end - start - already;
}
