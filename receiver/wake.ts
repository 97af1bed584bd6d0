/**
 * Waking an idle worker: one Int32 per worker in shared memory says whether it is asleep. A
 * listener that has just published records rings the bell; only a sleeping worker costs a wake
 * (a futex notify), a busy one finds the records when it looks at its rings again. (How often a
 * listener wakes one worker is hand-off.ts's rule.)
 *
 * The worker marks itself asleep, looks at its rings once more (a record published in between
 * would otherwise wait for the next one), and only then waits.
 */

/** Atomics.waitAsync (ES2024; Node has it, the project's TypeScript library predates it). */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      array: Int32Array,
      index: number,
      value: number,
    ): { async: false; value: string } | { async: true; value: Promise<string> };
  }
).waitAsync;

const ASLEEP = 0;
const AWAKE = 1;

export function createBells(workers: number): SharedArrayBuffer {
  const memory = new SharedArrayBuffer(4 * workers);
  new Int32Array(memory).fill(AWAKE);
  return memory;
}

/** True while worker `w` sleeps (it would cost a wake to hand it something). */
export function asleep(bells: Int32Array, w: number): boolean {
  return Atomics.load(bells, w) === ASLEEP;
}

/** Listener side: wakes worker `w` if it sleeps. */
export function ring(bells: Int32Array, w: number): void {
  if (Atomics.load(bells, w) === AWAKE) return;
  if (Atomics.compareExchange(bells, w, ASLEEP, AWAKE) === ASLEEP) Atomics.notify(bells, w, 1);
}

/**
 * Worker side: marks worker `w` asleep, then calls `pending()`; when something is pending it
 * stays awake and returns null, else it returns a promise that settles once a listener rings.
 */
export function sleep(
  bells: Int32Array,
  w: number,
  pending: () => boolean,
): Promise<unknown> | null {
  Atomics.store(bells, w, ASLEEP);
  if (pending()) {
    Atomics.store(bells, w, AWAKE);
    return null;
  }
  const waited = waitAsync(bells, w, ASLEEP);
  // Not async: a listener rang between the store and the wait.
  return waited.async ? waited.value : Promise.resolve();
}
