/**
 * A storm of one shard: at a set time every storm host starts its panic script at once and the
 * shard sends their records as one unpaced burst, round-robin over the storm hosts, until each
 * has finished its script and gone silent; then normal (paced) traffic resumes.
 */
import type { HostTable } from "./host-table.ts";

export class Storm {
  /** Monotonic µs the storm starts at (and every storm message's intended time). */
  readonly atUs: number;
  private readonly hosts: number[] = [];
  private index = 0;
  /** Storm hosts still panicking. */
  private left = 0;
  /** True from the start of the storm until every storm host has gone silent. */
  active = false;

  /** `atUs`: Infinity for a run without a storm. */
  constructor(table: HostTable, atUs: number) {
    this.atUs = atUs;
    if (atUs !== Number.POSITIVE_INFINITY)
      for (let j = 0; j < table.count; j++) if (table.isStorm(j)) this.hosts.push(j);
  }

  /** Starts the storm when its time has come (once): every storm host begins to panic. */
  startIfDue(nowUs: number, table: HostTable): void {
    if (this.active || nowUs < this.atUs || this.hosts.length === 0 || this.left < 0) return;
    this.active = true;
    this.left = this.hosts.length;
    for (const j of this.hosts) table.startPanic(j);
  }

  /**
   * The next storm host to write (local index), or -1 once every storm host has gone silent
   * (the storm is then over for good).
   */
  nextHost(): number {
    if (this.left === 0) {
      this.active = false;
      this.left = -1; // never again
      this.hosts.length = 0;
      return -1;
    }
    if (this.index >= this.hosts.length) this.index = 0;
    return this.hosts[this.index++];
  }

  /** A storm host has just finished its panic script. */
  hostSilenced(): void {
    this.left--;
  }
}
