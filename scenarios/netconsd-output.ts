/**
 * netconsd's exit statistics, parsed from its output (the lines it prints as its listeners and
 * workers exit). Pure (text in, numbers out).
 */

export interface NetconsdStats {
  /** "Total messages processed by listeners: N" */
  listenerMessages?: number;
  /** "Total messages processed by workers: N from H hosts" */
  workerMessages?: number;
  hosts?: number;
  /** "Exiting worker W got N msgs from H hosts", one per worker. */
  workers: { worker: number; messages: number; hosts: number }[];
  /** "Exiting listener L queued N messages", one per listener. */
  listeners: { listener: number; messages: number }[];
  /**
   * Host states dropped by netconsd's `-g` garbage collection ("Worker W GC'd N in T ms"), summed
   * over every collection. Its age test compares a wall-clock receive time with a monotonic
   * clock, so it collects hosts that are still sending; each shows up as a sequence reset.
   */
  gcCollected: number;
  /** How many collections ran. */
  gcRuns: number;
}

/** Parses netconsd's exit statistics from its output; null when none of them is there. */
export function parseNetconsdStats(output: string): NetconsdStats | null {
  const stats: NetconsdStats = { workers: [], listeners: [], gcCollected: 0, gcRuns: 0 };
  let found = false;
  for (const m of output.matchAll(/Total messages processed by listeners:\s*(\d+)/g)) {
    stats.listenerMessages = Number(m[1]);
    found = true;
  }
  for (const m of output.matchAll(
    /Total messages processed by workers:\s*(\d+) from (\d+) hosts/g,
  )) {
    stats.workerMessages = Number(m[1]);
    stats.hosts = Number(m[2]);
    found = true;
  }
  for (const m of output.matchAll(/Exiting worker (\d+) got (\d+) msgs from (\d+) hosts/g)) {
    stats.workers.push({ worker: Number(m[1]), messages: Number(m[2]), hosts: Number(m[3]) });
    found = true;
  }
  for (const m of output.matchAll(/Exiting listener (\d+) queued (\d+) messages/g)) {
    stats.listeners.push({ listener: Number(m[1]), messages: Number(m[2]) });
    found = true;
  }
  for (const m of output.matchAll(/Worker \d+ GC'd (\d+) in \d+ ?ms/g)) {
    stats.gcCollected += Number(m[1]);
    stats.gcRuns++;
    found = true;
  }
  return found ? stats : null;
}
