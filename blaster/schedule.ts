/**
 * The pacing schedule: the intended send time of every datagram slot, as a pure function of the
 * slot number (no clock inside; the engine compares it with the time it reads). Sending on a
 * schedule and stamping each message with its intended time, not the time it actually left,
 * keeps latency free of coordinated omission (as wrk2 does): when the sender falls behind, the
 * delay shows up in the stamps instead of silently stretching the run.
 *
 * Shapes: constant rate; a linear ramp FROM -> TO pps over a given time (then TO); bursts of N
 * datagrams that share one intended time (the average rate is unchanged).
 */

export interface ScheduleConfig {
  /** Datagrams per second; 0 (with no ramp) = unpaced, as fast as possible. */
  ratePps: number;
  /** Linear ramp of the rate; overUs must be > 0. Replaces ratePps. */
  ramp?: { fromPps: number; toPps: number; overUs: number };
  /** Datagrams per burst: slots k*burst .. k*burst+burst-1 share one intended time. Default 1. */
  burst?: number;
}

export class Schedule {
  /** False when unpaced: every slot is due at once. */
  readonly paced: boolean;
  private readonly a: number; // start rate, per µs
  private readonly b: number; // end rate, per µs
  private readonly overUs: number;
  private readonly rampSlots: number; // slots issued by the end of the ramp
  private readonly burst: number;

  constructor(config: ScheduleConfig) {
    this.burst = Math.max(1, Math.floor(config.burst ?? 1));
    if (config.ramp) {
      const { fromPps, toPps, overUs } = config.ramp;
      if (!(overUs > 0)) throw new RangeError("a ramp needs a positive duration");
      if (!(fromPps >= 0 && toPps >= 0) || fromPps + toPps === 0) {
        throw new RangeError("a ramp needs non-negative rates, not both zero");
      }
      this.a = fromPps / 1e6;
      this.b = toPps / 1e6;
      this.overUs = overUs;
    } else {
      if (!(config.ratePps >= 0)) throw new RangeError("the rate must be >= 0");
      this.a = this.b = config.ratePps / 1e6;
      this.overUs = 0;
    }
    this.paced = this.a > 0 || this.b > 0;
    this.rampSlots = this.cumulative(this.overUs);
  }

  /** The number of slots issued by time t (µs from the start): N(t), not rounded. */
  private cumulative(t: number): number {
    if (t <= this.overUs && this.overUs > 0) {
      return this.a * t + ((this.b - this.a) * t * t) / (2 * this.overUs);
    }
    return (
      this.a * this.overUs + ((this.b - this.a) * this.overUs) / 2 + this.b * (t - this.overUs)
    );
  }

  /** The intended send time of slot k, in µs from the start (0 for every slot when unpaced). */
  timeOfSlotUs(slot: number): number {
    if (!this.paced) return 0;
    const n = Math.floor(slot / this.burst) * this.burst;
    if (n <= this.rampSlots && this.overUs > 0) {
      const slope = (this.b - this.a) / this.overUs;
      // Solve a t + slope t^2 / 2 = n for the smallest t >= 0, in the form without the
      // cancellation of (-a + sqrt(...)) / slope when the slope is small.
      const root = Math.sqrt(Math.max(0, this.a * this.a + 2 * slope * n));
      return n === 0 ? 0 : (2 * n) / (this.a + root);
    }
    if (this.b === 0) return Number.POSITIVE_INFINITY;
    return this.overUs + (n - this.rampSlots) / this.b;
  }

  /**
   * How many slots are due at time t (µs from the start): those with an intended time <= t.
   * Unpaced: Infinity.
   */
  slotsDueBy(t: number): number {
    if (!this.paced) return Number.POSITIVE_INFINITY;
    if (t < 0) return 0;
    // The tiny epsilon absorbs floating-point error so slotsDueBy(timeOfSlotUs(k)) > k.
    const groups = Math.floor(this.cumulative(t) / this.burst + 1e-9) + 1;
    return groups * this.burst;
  }

  /** The average rate the schedule asks for over [0, t] µs, in datagrams per second. */
  averageRatePps(t: number): number {
    if (!this.paced || t <= 0) return 0;
    return (this.cumulative(t) / t) * 1e6;
  }
}
