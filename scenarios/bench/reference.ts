/**
 * The reference workload: a fixed piece of pure JavaScript, run in the same process as every
 * suite, so each benchmark can also be given as a ratio to it. A ratio cancels most of what
 * differs between machines (clock speed, CPU generation) and between moments on one shared
 * machine, so a baseline saved on a laptop can still gate a CI runner.
 *
 * It resembles our hot paths (byte loops over a Uint8Array, 32-bit integer arithmetic, a small
 * typed-array write) and has no I/O, no allocation and no dependency on anything that changes
 * with the project's code. Never change it: every saved baseline's ratios are relative to it. The
 * checksum below (asserted by a test) guards that.
 */

/** Renamed (v2...) if the workload ever has to change, so old baselines show it as missing. */
export const REFERENCE_NAME = "fnv1a+xorshift 1 KiB v1";

/** The result of referenceOp() (the same on every call): proves the workload is unchanged. */
export const REFERENCE_CHECKSUM = 0xb4b5ba09;

const INPUT_BYTES = 1024;

/** A fixed input: xorshift32 bytes from a fixed seed (deterministic, no Math.random). */
function fixedInput(): Uint8Array {
  const out = new Uint8Array(INPUT_BYTES);
  let x = 0x9e3779b9;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export interface ReferenceState {
  input: Uint8Array;
  table: Int32Array;
}

export function referenceState(): ReferenceState {
  return { input: fixedInput(), table: new Int32Array(256) };
}

/** One operation: FNV-1a over 1 KiB, folding every byte's running hash into a 256-entry table. */
export function referenceOp(state: ReferenceState): number {
  const { input, table } = state;
  let h = 0x811c9dc5;
  for (let i = 0; i < input.length; i++) {
    h ^= input[i];
    h = Math.imul(h, 0x01000193);
    table[h & 0xff] ^= h;
  }
  return h >>> 0;
}
