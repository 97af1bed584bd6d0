/**
 * The listener's side of the hand-off to the workers, shared by both read paths: choose the worker
 * by source address, reserve a place in its queue (exactly --queue-limit datagrams in flight per
 * worker, whatever the number of listeners), append the record to that worker's ring, and after
 * each read burst publish the rings that grew and wake their workers if they sleep.
 *
 * Wake-ups adapt to the load: a sleeping worker is woken at once unless this listener woke it
 * less than WAKE_GAP_US ago; then the wake waits until that much time has passed, and whatever
 * arrived meanwhile goes as one batch. Light traffic thus reaches a worker at once, while under
 * load a worker is woken at most every WAKE_GAP_US per listener (each wake costs a futex call and
 * an event loop turn on both sides, which at every read would cost more than the datagrams).
 */
import { threadClock } from "./clock.ts";
import { LISTENER_LIVE, LISTENER_LIVE_SLOTS, liveRow } from "./live-figures.ts";
import { RingWriter } from "./ring.ts";
import type { ListenerCounts, ListenerResult, ListenerTask } from "./thread-messages.ts";
import { asleep, ring } from "./wake.ts";

/** The shortest time between two wake-ups of one worker by one listener (never above
 * --batch-delay). */
const WAKE_GAP_US = 200;

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
  private readonly wakeGapUs: number;
  /** Per worker: when this listener last woke it, and when a deferred wake is due (0 = none). */
  private readonly lastWakeUs: Float64Array;
  private readonly wakeDueUs: Float64Array;

  constructor(task: ListenerTask) {
    this.inFlight = new Int32Array(task.inFlight);
    this.bells = new Int32Array(task.bells);
    this.live = liveRow(task.live, task.index, LISTENER_LIVE_SLOTS);
    this.writers = task.rings.map((r) => new RingWriter(r));
    this.limit = task.queueLimit;
    this.index = task.index;
    this.wakeGapUs = Math.min(WAKE_GAP_US, task.batchDelayMs * 1000);
    this.lastWakeUs = new Float64Array(task.rings.length);
    this.wakeDueUs = new Float64Array(task.rings.length);
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

  /**
   * After a read burst (or when a deferred wake may be due): publishes every ring that grew,
   * wakes the workers that need it, updates the live figures. Returns the µs until the next
   * deferred wake is due (call again then), or -1 when none is deferred.
   */
  publish(nowUs: number): number {
    const writers = this.writers;
    for (let w = 0; w < writers.length; w++) {
      if (writers[w].publish()) {
        this.counts.batches++;
        // A worker that is awake finds the records itself; one that sleeps needs a wake.
        if (asleep(this.bells, w) && this.wakeDueUs[w] === 0) {
          this.wakeDueUs[w] = Math.max(nowUs, this.lastWakeUs[w] + this.wakeGapUs);
        }
      }
    }
    let next = -1;
    for (let w = 0; w < writers.length; w++) {
      const due = this.wakeDueUs[w];
      if (due === 0) continue;
      if (due <= nowUs) {
        this.wakeDueUs[w] = 0;
        this.lastWakeUs[w] = nowUs;
        ring(this.bells, w);
      } else if (next < 0 || due - nowUs < next) {
        next = due - nowUs;
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
    return next;
  }

  /** After the socket is closed: the last records published, the rings closed, the result. */
  end(socket: { rcvbufBytes: number; socketErrors: number; truncated: number }): ListenerResult {
    this.publish(this.clock());
    for (let w = 0; w < this.writers.length; w++) {
      this.writers[w].close();
      ring(this.bells, w);
    }
    return { index: this.index, ...this.counts, ...socket };
  }
}
