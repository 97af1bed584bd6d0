/**
 * Pacing of one shard's send loop: which schedule slots are due at a given time, the intended
 * send time of each slot, and when the loop should next wake. Pure: every time comes in as a
 * parameter (monotonic µs), so the rules are testable without a clock.
 *
 * The loop sends whatever is due in one batch, then sleeps until the next batch is worth
 * sending: the later of the next slot's intended time and one quantum after the last batch
 * began. A quantum of 200 µs bounds the wake-ups to 5,000 a second whatever the rate, at the
 * price of up to one quantum of lateness; each datagram still carries its own intended time
 * (blaster/schedule.ts), so measured latency stays free of coordinated omission.
 */
import type { Schedule } from "./schedule.ts";

/** Default pacing quantum (µs): the shortest sleep between two paced batches. */
export const DEFAULT_PACING_QUANTUM_US = 200;

export class Pacer {
  private readonly schedule: Schedule;
  private readonly t0Us: number;
  private readonly quantumUs: number;
  /** The next slot to send. */
  slot = 0;
  /** How far the schedule has been pushed back (a storm pauses it). */
  private shiftUs = 0;
  /** When the last batch was found due. */
  private lastBatchUs = Number.NEGATIVE_INFINITY;

  constructor(schedule: Schedule, t0Us: number, quantumUs = DEFAULT_PACING_QUANTUM_US) {
    if (!schedule.paced) throw new RangeError("a Pacer needs a paced schedule");
    if (!(quantumUs >= 0)) throw new RangeError("the pacing quantum must be >= 0 µs");
    this.schedule = schedule;
    this.t0Us = t0Us;
    this.quantumUs = quantumUs;
  }

  /** Slots due at `nowUs` that have not been sent, at most `max`; remembers the batch time. */
  due(nowUs: number, max: number): number {
    const due = this.schedule.slotsDueBy(nowUs - this.t0Us - this.shiftUs) - this.slot;
    if (due <= 0) return 0;
    this.lastBatchUs = nowUs;
    return due < max ? due : max;
  }

  /** The intended send time of the next slot (monotonic µs). */
  intendedUs(): number {
    return this.t0Us + this.shiftUs + this.schedule.timeOfSlotUs(this.slot);
  }

  /** Records `slots` slots as sent. */
  advance(slots: number): void {
    this.slot += slots;
  }

  /** When the next batch is worth sending: the next slot's time, at least a quantum on. */
  wakeUs(): number {
    const next = this.intendedUs();
    const earliest = this.lastBatchUs + this.quantumUs;
    return next > earliest ? next : earliest;
  }

  /**
   * Resumes after a pause (a storm) without a catch-up burst: the schedule moves on by however
   * far the next slot is behind `nowUs`.
   */
  resume(nowUs: number): void {
    const behind = nowUs - this.intendedUs();
    if (behind > 0) this.shiftUs += behind;
  }
}
