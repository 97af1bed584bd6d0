/**
 * The per-host state of a shard of simulated hosts in typed arrays (21 bytes a host, so a
 * million hosts take 21 MB; 25 with impairments or truth): next seq and printk time, position
 * in the corpus, format and storm flags, kernel release.
 */
import type { ContentOptions } from "./content.ts";
import { PANIC_SCRIPT, RELEASES } from "./corpus.ts";
import { NO_SCRIPT, SCRIPT_START } from "./packed-corpus.ts";
import { hash32, SALT, unit } from "./random.ts";

/** Host flags. */
export const LEGACY = 1;
export const STORM = 2;
export const DEAD = 4;

/**
 * The per-host state of a shard of hosts: local index j is global host `first + j * stride`.
 *
 * Memory is the point here (a million hosts per worker): only what evolves is stored, 21 bytes
 * a host. What can be computed is not stored: the first seq is a hash of (seed, host), or the
 * --start-seq (one more hash per message, a few ns against ~0.4 µs of engine work per packet),
 * the msgid is 1 + the messages so far, the script's end comes from the script's index.
 */
export class HostTable {
  readonly count: number;
  readonly first: number;
  readonly stride: number;
  private readonly seed: number;
  /** The --start-seq given, or null for a random first seq per host. */
  private readonly fixedStart: number | null;
  /** Next seq of each host (float64: the kernel's seq is 64 bits, a start may exceed 2^32). */
  readonly seq: Float64Array;
  /** Next printk timestamp (µs since the simulated boot). */
  readonly tsUs: Float64Array;
  /** Next corpus record, and the script being played (its end is SCRIPT_END[script]). */
  readonly cursor: Uint16Array;
  readonly script: Uint8Array;
  readonly flags: Uint8Array;
  /** Index into RELEASES. */
  readonly release: Uint8Array;
  /**
   * Datagrams generated per host (the index impairment decisions hash, and the truth's count);
   * only kept when `countDatagrams` (4 more bytes a host), else empty.
   */
  readonly datagrams: Uint32Array;

  constructor(options: ContentOptions, first: number, stride: number, countDatagrams = true) {
    const count = Math.max(0, Math.ceil((options.hosts - first) / stride));
    this.count = count;
    this.first = first;
    this.stride = stride;
    const { seed } = options;
    this.seed = seed;
    this.fixedStart = options.startSeq === "random" ? null : options.startSeq;
    this.seq = new Float64Array(count);
    this.tsUs = new Float64Array(count);
    this.cursor = new Uint16Array(count);
    this.script = new Uint8Array(count).fill(NO_SCRIPT);
    this.flags = new Uint8Array(count);
    this.release = new Uint8Array(count);
    this.datagrams = new Uint32Array(countDatagrams ? count : 0);
    for (let j = 0; j < count; j++) {
      const host = first + j * stride;
      this.seq[j] = this.startSeq(j);
      // Uptime between 1 s and ~30 days, as if the host had booted a while ago.
      this.tsUs[j] = 1_000_000 + Math.floor(unit(seed, host, 0, SALT.startTs) * 2.6e12);
      this.release[j] = hash32(seed, host, 0, SALT.release) % RELEASES.length;
      let f = 0;
      if (options.format === "legacy") f |= LEGACY;
      else if (options.format === "mixed" && unit(seed, host, 0, SALT.format) < 0.5) f |= LEGACY;
      if (options.stormShare > 0 && unit(seed, host, 0, SALT.storm) < options.stormShare)
        f |= STORM;
      this.flags[j] = f;
    }
  }

  /** The global host index of local index j. */
  host(j: number): number {
    return this.first + j * this.stride;
  }

  /** Host j's first seq: the chosen one, or a hash of (seed, host). */
  startSeq(j: number): number {
    return this.fixedStart !== null
      ? this.fixedStart
      : hash32(this.seed, this.first + j * this.stride, 0, SALT.startSeq);
  }

  isLegacy(j: number): boolean {
    return (this.flags[j] & LEGACY) !== 0;
  }
  isStorm(j: number): boolean {
    return (this.flags[j] & STORM) !== 0;
  }
  isDead(j: number): boolean {
    return (this.flags[j] & DEAD) !== 0;
  }
  /** Messages this host has generated so far. */
  messages(j: number): number {
    return this.seq[j] - this.startSeq(j);
  }
  /** The host has finished its panic script: it is silent from now on. */
  silence(j: number): void {
    this.flags[j] |= DEAD;
  }
  /** Start the panic script now (storm mode); the host goes silent after it. */
  startPanic(j: number): void {
    this.cursor[j] = SCRIPT_START[PANIC_SCRIPT];
    this.script[j] = PANIC_SCRIPT;
  }
  /** True while a panicking host still has records to send. */
  panicking(j: number): boolean {
    return this.isStorm(j) && !this.isDead(j) && this.script[j] === PANIC_SCRIPT;
  }
}
