/**
 * Reassembly of `ncfrag` fragments into whole extended records, keyed by (source, seq).
 *
 * Bytes are placed exactly at their offset, so fragments may come in any order, twice, or
 * overlapping. Memory is bounded: the total of one message is capped (decode already refuses
 * larger ones), each source may hold at most `maxPendingBytesPerSource` bytes of incomplete
 * messages (the oldest is given up first), and a message still incomplete after `timeoutMs` is
 * given up by expire(). Every message given up is counted as incomplete, never held forever.
 *
 * Pure: time is a parameter (`nowMs`), no timers, no clocks.
 */
import { DEFAULT_MAX_MESSAGE_BYTES, type DecodedExtended, parseData } from "./decode.ts";

export interface ReassemblyOptions {
  /** Largest message total accepted (bytes of data). */
  maxMessageBytes?: number;
  /** Bytes of incomplete messages one source may hold. */
  maxPendingBytesPerSource?: number;
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

/**
 * What one pending message costs beyond its bytes (map entry, range list, header): charged so that
 * thousands of tiny fragments per source are bounded as well as a few large ones.
 */
const PENDING_OVERHEAD_BYTES = 256;

interface Pending {
  seq: number;
  total: number;
  bytes: Buffer;
  /** Covered byte ranges, sorted and merged: [start0, end0, start1, end1, ...]. */
  covered: number[];
  received: number;
  /** Fragments that brought new bytes (duplicates not counted). */
  fragments: number;
  firstMs: number;
  /** The first fragment's header fields, kept for the completed message. */
  head: DecodedExtended;
}

interface SourceState {
  pending: Map<number, Pending>;
  pendingBytes: number;
  /** Ring of recently completed seqs. */
  completed: number[];
  completedAt: number;
}

export class Reassembler {
  readonly counters: ReassemblyCounters = {
    fragments: 0,
    reassembled: 0,
    duplicateFragments: 0,
    incomplete: 0,
    overLimit: 0,
  };
  private readonly sources = new Map<string, SourceState>();
  private readonly maxMessageBytes: number;
  private readonly maxPendingBytesPerSource: number;
  private readonly timeoutMs: number;
  private readonly rememberCompleted: number;
  private pendingMessages = 0;
  /** How many fragments built the message the last add() returned (its datagrams, for output). */
  completedFragments = 0;

  constructor(options: ReassemblyOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.maxPendingBytesPerSource = options.maxPendingBytesPerSource ?? 256 * 1024;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.rememberCompleted = options.rememberCompleted ?? 32;
  }

  /** Incomplete messages currently held, over all sources. */
  get pending(): number {
    return this.pendingMessages;
  }

  /**
   * Adds one fragment. Returns the whole message (fragment undefined, data/text/dict filled) when
   * this fragment completes it, otherwise null.
   */
  add(source: string, fragment: DecodedExtended, nowMs: number): DecodedExtended | null {
    const frag = fragment.fragment;
    if (!frag) return fragment;
    const { offset, total } = frag;
    const chunk = fragment.data;
    if (
      total > this.maxMessageBytes ||
      offset + chunk.length > total ||
      total + PENDING_OVERHEAD_BYTES > this.maxPendingBytesPerSource
    ) {
      this.counters.overLimit++;
      return null;
    }
    this.counters.fragments++;
    let state = this.sources.get(source);
    if (!state) {
      state = { pending: new Map(), pendingBytes: 0, completed: [], completedAt: 0 };
      this.sources.set(source, state);
    }
    let message = state.pending.get(fragment.seq);
    if (!message) {
      if (state.completed.includes(fragment.seq)) {
        this.counters.duplicateFragments++;
        return null;
      }
      const cost = total + PENDING_OVERHEAD_BYTES;
      while (state.pendingBytes + cost > this.maxPendingBytesPerSource) this.giveUpOldest(state);
      message = {
        seq: fragment.seq,
        total,
        bytes: Buffer.alloc(total),
        covered: [],
        received: 0,
        fragments: 0,
        firstMs: nowMs,
        head: fragment,
      };
      state.pending.set(fragment.seq, message);
      state.pendingBytes += cost;
      this.pendingMessages++;
    } else if (message.total !== total) {
      this.counters.overLimit++; // a fragment that disagrees with its message's total
      return null;
    }
    const added = cover(message.covered, offset, offset + chunk.length);
    if (added === 0 && chunk.length > 0) {
      this.counters.duplicateFragments++;
      return null;
    }
    chunk.copy(message.bytes, offset);
    message.received += added;
    message.fragments++;
    if (offset === 0) message.head = fragment;
    if (message.received < total) return null;

    state.pending.delete(message.seq);
    state.pendingBytes -= total + PENDING_OVERHEAD_BYTES;
    this.pendingMessages--;
    this.rememberDone(state, message.seq);
    this.counters.reassembled++;
    this.completedFragments = message.fragments;
    const { text, dict } = parseData(message.bytes);
    const head = message.head;
    return {
      kind: "extended",
      release: head.release,
      facility: head.facility,
      level: head.level,
      seq: head.seq,
      tsUs: head.tsUs,
      flags: head.flags,
      caller: head.caller,
      data: message.bytes,
      text,
      dict,
    };
  }

  /** Gives up every message that has waited longer than timeoutMs; returns how many. */
  expire(nowMs: number): number {
    if (this.pendingMessages === 0) return 0;
    let expired = 0;
    for (const [source, state] of this.sources) {
      for (const [seq, message] of state.pending) {
        if (nowMs - message.firstMs >= this.timeoutMs) {
          this.drop(state, seq, message);
          expired++;
        }
      }
      if (state.pending.size === 0 && state.completed.length === 0) this.sources.delete(source);
    }
    return expired;
  }

  /** Gives up everything still pending (end of run); returns how many. */
  flush(): number {
    let given = 0;
    for (const state of this.sources.values()) {
      for (const [seq, message] of state.pending) {
        this.drop(state, seq, message);
        given++;
      }
    }
    return given;
  }

  /** Forgets a source entirely (host evicted); its pending messages count as incomplete. */
  forget(source: string): void {
    const state = this.sources.get(source);
    if (!state) return;
    for (const [seq, message] of state.pending) this.drop(state, seq, message);
    this.sources.delete(source);
  }

  private giveUpOldest(state: SourceState): void {
    let oldest: Pending | undefined;
    for (const message of state.pending.values())
      if (!oldest || message.firstMs < oldest.firstMs) oldest = message;
    if (oldest) this.drop(state, oldest.seq, oldest);
  }

  private drop(state: SourceState, seq: number, message: Pending): void {
    state.pending.delete(seq);
    state.pendingBytes -= message.total + PENDING_OVERHEAD_BYTES;
    this.pendingMessages--;
    this.counters.incomplete++;
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
 * Adds [start, end) to a sorted, merged list of ranges; returns how many bytes were new.
 * Lists stay tiny (fragments of one message), so a linear merge is the simple, fast choice.
 */
export function cover(ranges: number[], start: number, end: number): number {
  if (end <= start) return 0;
  let already = 0;
  let newStart = start;
  let newEnd = end;
  const kept: number[] = [];
  for (let i = 0; i < ranges.length; i += 2) {
    const a = ranges[i];
    const b = ranges[i + 1];
    if (b < start || a > end) {
      kept.push(a, b);
      continue;
    }
    // Overlapping or touching: count the overlap, then merge.
    already += Math.max(0, Math.min(b, end) - Math.max(a, start));
    newStart = Math.min(newStart, a);
    newEnd = Math.max(newEnd, b);
  }
  kept.push(newStart, newEnd);
  for (let i = kept.length - 2; i > 0 && kept[i] < kept[i - 2]; i -= 2) {
    [kept[i - 2], kept[i]] = [kept[i], kept[i - 2]];
    [kept[i - 1], kept[i + 1]] = [kept[i + 1], kept[i - 1]];
  }
  ranges.length = 0;
  for (const v of kept) ranges.push(v);
  return end - start - already;
}
