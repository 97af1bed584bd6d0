/**
 * Counters in one flat shape, so results from any number of worker threads merge generically
 * (no hand-written `acc.x += r.x` per field, which silently forgets new counters).
 */
export type Counters<K extends string = string> = Record<K, number>;

/** A zeroed counter set with exactly the given names. */
export function zeroCounters<K extends string>(names: readonly K[]): Counters<K> {
  const out = {} as Counters<K>;
  for (const name of names) out[name] = 0;
  return out;
}

/** Adds every counter of `from` into `into` (names missing in `into` are created). */
export function addCounters<K extends string>(
  into: Counters<K>,
  from: Partial<Counters<K>>,
): Counters<K> {
  for (const key of Object.keys(from) as K[]) {
    const value = from[key];
    if (typeof value === "number") into[key] = (into[key] ?? 0) + value;
  }
  return into;
}

/** The sum of several counter sets. */
export function sumCounters<K extends string>(sets: readonly Partial<Counters<K>>[]): Counters<K> {
  const out = {} as Counters<K>;
  for (const set of sets) addCounters(out, set);
  return out;
}
