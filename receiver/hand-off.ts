/**
 * The listener's side of the hand-off to the workers, shared by both read paths: choose the worker
 * by source address, reserve a place in its queue (exactly --queue-limit datagrams in flight per
 * worker, whatever the number of listeners), append the record to that worker's ring, and after
 * each read burst publish the rings that grew and wake their workers if they sleep.
 */
import { threadClock } from "./clock.ts";
import { LISTENER_LIVE, LISTENER_LIVE_SLOTS, liveRow } from "./live-figures.ts";
import { RingWriter } from "./ring.ts";
import type { ListenerCounts, ListenerResult, ListenerTask } from "./thread-messages.ts";
import { ring } from "./wake.ts";

export class HandOff {
  readonly writers: RingWriter[];
  readonly clock = threadClock();
  readonly counts: ListenerCounts = {
    datagrams: 0,
    bytes: 0,
    queueDrops: 0,
    batches: 0,
    firstUs: 0,
    lastUs: 0,
  };
  private readonly inFlight: Int32Array;
  private readonly bells: Int32Array;
  private readonly live: Float64Array;
  private readonly limit: number;
  private readonly index: number;

  constructor(task: ListenerTask) {
    this.inFlight = new Int32Array(task.inFlight);
    this.bells = new Int32Array(task.bells);
    this.live = liveRow(task.live, task.index, LISTENER_LIVE_SLOTS);
    this.writers = task.rings.map((r) => new RingWriter(r));
    this.limit = task.queueLimit;
    this.index = task.index;
  }

  /** Counts a read burst of `n` datagrams (`bytes` in all) received at `recvUs`. */
  received(n: number, bytes: number, recvUs: number): void {
    const c = this.counts;
    if (c.firstUs === 0) c.firstUs = recvUs;
    c.lastUs = recvUs;
    c.datagrams += n;
    c.bytes += bytes;
  }

  /**
   * Takes one place in worker `w`'s queue, or counts a queue drop and returns false when
   * --queue-limit datagrams are already in flight to it. A compare-and-swap, so two listeners
   * cannot both take the last place.
   */
  reserve(w: number): boolean {
    const inFlight = this.inFlight;
    const limit = this.limit;
    for (;;) {
      const held = Atomics.load(inFlight, w);
      if (held >= limit) {
        this.counts.queueDrops++;
        return false;
      }
      if (Atomics.compareExchange(inFlight, w, held, held + 1) === held) return true;
    }
  }

  /** Gives back a place reserved for a datagram the ring had no room for (a queue drop). */
  unreserve(w: number): void {
    Atomics.sub(this.inFlight, w, 1);
    this.counts.queueDrops++;
  }

  /** After a read burst: publishes every ring that grew, wakes its worker, updates live figures. */
  publish(): void {
    const writers = this.writers;
    for (let w = 0; w < writers.length; w++) {
      if (writers[w].publish()) {
        this.counts.batches++;
        ring(this.bells, w);
      }
    }
    const live = this.live;
    const c = this.counts;
    live[LISTENER_LIVE.datagrams] = c.datagrams;
    live[LISTENER_LIVE.bytes] = c.bytes;
    live[LISTENER_LIVE.queueDrops] = c.queueDrops;
    live[LISTENER_LIVE.batches] = c.batches;
    live[LISTENER_LIVE.firstUs] = c.firstUs;
    live[LISTENER_LIVE.lastUs] = c.lastUs;
  }

  /** After the socket is closed: the last records published, the rings closed, the result. */
  end(socket: { rcvbufBytes: number; socketErrors: number; truncated: number }): ListenerResult {
    this.publish();
    for (let w = 0; w < this.writers.length; w++) {
      this.writers[w].close();
      ring(this.bells, w);
    }
    return { index: this.index, ...this.counts, ...socket };
  }
}
