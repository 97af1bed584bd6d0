/**
 * Which worker owns a source: FNV-1a of the address text (port ignored, as netconsd hashes the
 * address only), so one host's state always lives in one worker. Pure.
 */

export function workerForAddress(address: string, workers: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < address.length; i++) {
    h ^= address.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % workers;
}

/** workerForAddress() over the address text's bytes (ASCII, so the same hash, no string). */
export function workerForAddressBytes(
  bytes: Uint8Array,
  start: number,
  length: number,
  workers: number,
): number {
  let h = 0x811c9dc5;
  for (let i = start; i < start + length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % workers;
}
