/**
 * The figures each receiver thread keeps in shared memory for the main thread (progress line,
 * idle detection, a report when a thread crashed or the run is cut short): one Float64Array row
 * per thread, at named offsets.
 */

/** A worker's row. */
export const WORKER_LIVE = {
  datagrams: 0,
  bytes: 1,
  malformed: 2,
  extended: 3,
  legacy: 4,
  hosts: 5,
  hostsTracked: 6,
  queueMaxDepth: 7,
  busyUs: 8,
  missing: 9,
  outOfOrder: 10,
  duplicates: 11,
} as const;
export type WorkerLiveField = keyof typeof WORKER_LIVE;
export const WORKER_LIVE_SLOTS = Object.keys(WORKER_LIVE).length;

/** A listener's row; firstUs and lastUs are receive times (µs) of its first and last datagram. */
export const LISTENER_LIVE = {
  datagrams: 0,
  bytes: 1,
  queueDrops: 2,
  batches: 3,
  firstUs: 4,
  lastUs: 5,
} as const;
export type ListenerLiveField = keyof typeof LISTENER_LIVE;
export const LISTENER_LIVE_SLOTS = Object.keys(LISTENER_LIVE).length;

export function createLiveMemory(threads: number, slots: number): SharedArrayBuffer {
  return new SharedArrayBuffer(8 * threads * slots);
}

/** Thread `index`'s row of a live memory block. */
export function liveRow(memory: SharedArrayBuffer, index: number, slots: number): Float64Array {
  return new Float64Array(memory, index * slots * 8, slots);
}

/** A row's fields as an object. */
export function readRow<F extends string>(
  row: Float64Array,
  layout: Readonly<Record<F, number>>,
): Record<F, number> {
  const out = {} as Record<F, number>;
  for (const name of Object.keys(layout) as F[]) out[name] = row[layout[name]];
  return out;
}
