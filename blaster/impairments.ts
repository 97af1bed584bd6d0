/**
 * The impairment plan: which datagrams are lost, duplicated or held back, decided per datagram
 * from the seed, and the exact truth of what happened. Pure: no sockets, no clocks. The engine
 * offers each datagram in generation order and sends what the plan emits, in emission order.
 *
 * Semantics (the receiver's ledger counts by the same rules):
 * - first loss (the datagram is never sent), else duplicate (sent twice, back to back);
 * - independently of duplication, reorder holds a datagram back until 1..depth later datagrams
 *   of the SAME host have been sent, then sends it (both copies, when duplicated);
 * - whatever is still held when the run ends is sent at the end, host by host.
 *
 * From the emission order the plan derives what a perfect receiver must find (`expected`), for
 * extended-format messages (legacy carries no sequence numbers, so nothing can be checked there):
 * messagesDelivered (every datagram of the message sent at least once), missing (at least one
 * datagram lost), duplicates (datagrams that arrive again after an identical copy), outOfOrder
 * (messages completing after a higher seq of the same host completed).
 */
import { SALT, unit } from "./random.ts";

export interface ImpairmentConfig {
  seed: number;
  /** Host indices are below this (sizes the per-host table). */
  hosts: number;
  /** Probability that a datagram is lost. */
  loss: number;
  /** Probability that a (not lost) datagram is sent twice. */
  duplicate: number;
  /** Probability that a (not lost) datagram is held back. */
  reorder: number;
  /** A held datagram waits for 1..reorderDepth later datagrams of its host. */
  reorderDepth: number;
  /** Keep a list of every impaired datagram (for --truth). */
  recordEvents?: boolean;
}

/** One datagram as the engine offers it. */
export interface DatagramInfo {
  host: number;
  /** The host's datagram counter (0, 1, 2...): the index the decisions hash. */
  index: number;
  /** The message's seq (extended) or line number (legacy). */
  seq: number;
  fragment: number;
  fragments: number;
  /** Extended: counted in `expected`. */
  tracked: boolean;
  /** The engine's handle for the bytes. */
  token: number;
}

/** The engine's side: `emit` sends a datagram (copies 1 or 2); `hold` keeps its bytes for later. */
export interface ImpairmentSink {
  emit(token: number, host: number, copies: number): void;
  hold(token: number): void;
}

export interface ImpairmentTruth {
  lost: number;
  duplicated: number;
  reordered: number;
  /** Extra datagrams put on the wire by duplication (== duplicated). */
  expected: { messagesDelivered: number; missing: number; duplicates: number; outOfOrder: number };
}

/** An impaired datagram, for --truth: what happened to (host, seq, fragment). */
export interface ImpairmentEvent {
  kind: "lost" | "duplicated" | "reordered";
  host: number;
  seq: number;
  fragment: number;
}

interface Held {
  info: DatagramInfo;
  copies: number;
  /** Later datagrams of the host still to be sent before this one goes. */
  wait: number;
  /** Later datagrams of the host sent while this one was held. */
  passed: number;
}

interface Pending {
  /** Fragments not offered yet. */
  remaining: number;
  /** At least one fragment was lost: the message will never complete. */
  lost: boolean;
}

export function impairmentsActive(c: Pick<ImpairmentConfig, "loss" | "duplicate" | "reorder">) {
  return c.loss > 0 || c.duplicate > 0 || c.reorder > 0;
}

export class ImpairmentPlan {
  private readonly config: ImpairmentConfig;
  private readonly sink: ImpairmentSink;
  /** Held datagrams per host, oldest first. Only hosts with something held have an entry. */
  private readonly held = new Map<number, Held[]>();
  /** Fragmented messages not yet complete, by `host:seq`. */
  private readonly pending = new Map<string, Pending>();
  /** Highest completed seq per host (tracked messages only), -1 before the first. */
  private readonly highest: Float64Array;
  readonly truth: ImpairmentTruth = {
    lost: 0,
    duplicated: 0,
    reordered: 0,
    expected: { messagesDelivered: 0, missing: 0, duplicates: 0, outOfOrder: 0 },
  };
  readonly events: ImpairmentEvent[] = [];

  constructor(config: ImpairmentConfig, sink: ImpairmentSink) {
    if (!(config.reorderDepth >= 1) && config.reorder > 0) {
      throw new RangeError("reorderDepth must be at least 1 when reorder > 0");
    }
    this.config = config;
    this.sink = sink;
    this.highest = new Float64Array(config.hosts).fill(-1);
  }

  /** Decides one datagram and emits whatever is due now. */
  offer(d: DatagramInfo): void {
    const { seed, loss, duplicate, reorder, reorderDepth } = this.config;
    if (loss > 0 && unit(seed, d.host, d.index, SALT.loss) < loss) {
      this.truth.lost++;
      this.record("lost", d);
      if (d.tracked) this.markLost(d);
      return;
    }
    const copies = duplicate > 0 && unit(seed, d.host, d.index, SALT.duplicate) < duplicate ? 2 : 1;
    if (copies === 2) {
      this.truth.duplicated++;
      this.record("duplicated", d);
    }
    if (reorder > 0 && unit(seed, d.host, d.index, SALT.reorder) < reorder) {
      const wait = 1 + Math.floor(unit(seed, d.host, d.index, SALT.reorderDepth) * reorderDepth);
      let list = this.held.get(d.host);
      if (!list) {
        list = [];
        this.held.set(d.host, list);
      }
      list.push({ info: d, copies, wait, passed: 0 });
      this.sink.hold(d.token);
      return;
    }
    this.send(d, copies);
    const list = this.held.get(d.host);
    if (list) this.release(d.host, list);
  }

  /** The run is over: sends everything still held, host by host, oldest first. */
  finish(): void {
    for (const [host, list] of this.held) {
      for (const h of list) this.sendHeld(h);
      this.held.delete(host);
    }
  }

  /** How many datagrams are held right now. */
  heldCount(): number {
    let n = 0;
    for (const list of this.held.values()) n += list.length;
    return n;
  }

  private release(host: number, list: Held[]): void {
    // A fresh datagram of `host` just went out: every held one has been passed once more.
    let kept = 0;
    for (let i = 0; i < list.length; i++) {
      const h = list[i];
      h.passed++;
      if (--h.wait <= 0) this.sendHeld(h);
      else list[kept++] = h;
    }
    list.length = kept;
    if (kept === 0) this.held.delete(host);
  }

  private sendHeld(h: Held): void {
    if (h.passed > 0) {
      this.truth.reordered++;
      this.record("reordered", h.info);
    }
    this.send(h.info, h.copies);
  }

  private send(d: DatagramInfo, copies: number): void {
    this.sink.emit(d.token, d.host, copies);
    if (!d.tracked) return;
    if (copies === 2) this.truth.expected.duplicates++;
    if (d.fragments === 1) {
      this.complete(d.host, d.seq);
      return;
    }
    const p = this.pendingOf(d);
    if (--p.remaining === 0) {
      this.pending.delete(`${d.host}:${d.seq}`);
      if (!p.lost) this.complete(d.host, d.seq);
    }
  }

  private markLost(d: DatagramInfo): void {
    if (d.fragments === 1) {
      this.truth.expected.missing++;
      return;
    }
    const p = this.pendingOf(d);
    if (!p.lost) {
      p.lost = true;
      this.truth.expected.missing++;
    }
    if (--p.remaining === 0) this.pending.delete(`${d.host}:${d.seq}`);
  }

  /** The completion state of a fragmented message (every fragment is offered exactly once). */
  private pendingOf(d: DatagramInfo): Pending {
    const key = `${d.host}:${d.seq}`;
    let p = this.pending.get(key);
    if (!p) {
      p = { remaining: d.fragments, lost: false };
      this.pending.set(key, p);
    }
    return p;
  }

  private complete(host: number, seq: number): void {
    this.truth.expected.messagesDelivered++;
    if (seq < this.highest[host]) this.truth.expected.outOfOrder++;
    else this.highest[host] = seq;
  }

  private record(kind: ImpairmentEvent["kind"], d: DatagramInfo): void {
    if (this.config.recordEvents) {
      this.events.push({ kind, host: d.host, seq: d.seq, fragment: d.fragment });
    }
  }
}
