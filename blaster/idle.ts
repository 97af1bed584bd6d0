/**
 * How a send loop waits without spinning and without starving its event loop: sleeps until a
 * wake time (a millisecond timer for long gaps, then Atomics.wait on the stop word for the
 * sub-millisecond rest, so a stop wakes it at once), and hands the event loop a turn at most
 * every `yieldEveryUs` (so the main thread's progress timer, signals and socket callbacks run,
 * and a paced loop costs one event-loop turn per interval, not one per batch).
 */
import { setImmediate as immediate, setTimeout as sleep } from "node:timers/promises";

/** Gaps longer than this (µs) sleep on a timer first (~1 ms granularity, lets I/O through). */
const TIMER_FROM_US = 2500;

export class Idler {
  private readonly control: Int32Array;
  private readonly stopIndex: number;
  private readonly clock: () => number;
  private readonly yieldEveryUs: number;
  private lastYieldUs: number;

  /**
   * `control[stopIndex]` is the stop word (non-zero = stop; a notify on it ends a wait).
   * `yieldEveryUs`: the longest the loop keeps the event loop waiting (the main thread: short).
   */
  constructor(control: Int32Array, stopIndex: number, clock: () => number, yieldEveryUs: number) {
    this.control = control;
    this.stopIndex = stopIndex;
    this.clock = clock;
    this.yieldEveryUs = yieldEveryUs;
    this.lastYieldUs = clock();
  }

  /** Gives the event loop a turn if it has waited `yieldEveryUs` or more; else nothing. */
  breathe(nowUs: number): Promise<void> | undefined {
    if (nowUs - this.lastYieldUs < this.yieldEveryUs) return undefined;
    this.lastYieldUs = nowUs;
    return immediate();
  }

  /** Sleeps until `wakeUs` (monotonic µs) or a stop, whichever comes first. */
  async until(wakeUs: number): Promise<void> {
    let now = this.clock();
    let waitUs = wakeUs - now;
    if (waitUs >= TIMER_FROM_US) {
      // At most 50 ms at a time, so a stop is seen soon.
      await sleep(Math.min(Math.floor(waitUs / 1000) - 1, 50));
      this.lastYieldUs = now = this.clock();
      waitUs = wakeUs - now;
    }
    // Blocks this thread at most until the next event-loop turn is due, so the main thread stays
    // responsive; the stop word is the one waited on, so a stop wakes it at once.
    const blockUs = Math.min(waitUs, this.lastYieldUs + this.yieldEveryUs - now);
    if (blockUs > 0) Atomics.wait(this.control, this.stopIndex, 0, blockUs / 1000);
    const turn = this.breathe(this.clock());
    if (turn) await turn;
  }
}
