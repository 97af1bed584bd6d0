/**
 * Which worker owns a source: FNV-1a of the address text (port ignored, as netconsd hashes the
 * address only), so one host's state always lives in one worker. Pure.
 */
import { hashBytes } from "./host-table.ts";

/** The address text's bytes for workerForAddress (reused: no allocation per datagram). */
let scratch = Buffer.alloc(64);

export function workerForAddress(address: string, workers: number): number {
  if (address.length > scratch.length) scratch = Buffer.alloc(address.length * 2);
  const length = scratch.write(address, 0, "latin1");
  return workerForAddressBytes(scratch, 0, length, workers);
}

/** workerForAddress() over the address text's bytes (ASCII, so the same hash, no string). */
export function workerForAddressBytes(
  bytes: Uint8Array,
  start: number,
  length: number,
  workers: number,
): number {
  return (hashBytes(bytes, start, length) >>> 0) % workers;
}
