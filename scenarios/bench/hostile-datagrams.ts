/**
 * Hostile netconsole datagrams for the fuzz benchmark, generated from (seed, index) alone (no
 * generator state, so any count is reproducible): random bytes, valid records, records with
 * flipped bytes, ncfrag abuse (offsets and totals anywhere, overlapping, huge, in hex), emergency
 * jumps and seqs up to 2^53, 1000-byte records ending in the kernel's NUL, legacy lines with
 * terminal escapes, and fragment pairs of real messages (some complete, some never).
 */
import { hash32 } from "../../blaster/random.ts";

/** The kinds, in the order the generator picks them (one in KINDS.length each). */
export const HOSTILE_KINDS = [
  "random-bytes",
  "valid",
  "mutated",
  "ncfrag-abuse",
  "emergency-jump",
  "huge-seq",
  "kernel-nul",
  "legacy-escapes",
  "fragment-pair",
] as const;

/** Salts, so each decision about one datagram is independent of the others. */
const SALT = { kind: 101, source: 102, length: 103, byte: 104, a: 105, b: 106, c: 107, pair: 108 };

/** Whether datagrams 2k and 2k+1 are the two fragments of one message (then from one source). */
function isPair(seed: number, index: number): boolean {
  return hash32(seed, index >>> 1, 0, SALT.pair) % HOSTILE_KINDS.length === 0;
}

/** Largest datagram written (bytes). */
export const HOSTILE_MAX_BYTES = 1200;

/**
 * Writes datagram `index` into `out` (at least HOSTILE_MAX_BYTES long) and returns its length.
 * Its source is hostileSource(seed, index, sources).
 */
export function hostileDatagram(seed: number, index: number, out: Buffer): number {
  const h = (salt: number, k = 0) => hash32(seed, index, k, salt);
  const kind = isPair(seed, index)
    ? HOSTILE_KINDS.length - 1
    : h(SALT.kind) % (HOSTILE_KINDS.length - 1);
  const a = h(SALT.a);
  const b = h(SALT.b);
  switch (HOSTILE_KINDS[kind]) {
    case "random-bytes": {
      const length = h(SALT.length) % (HOSTILE_MAX_BYTES + 1);
      for (let i = 0; i < length; i += 4) out.writeUInt32LE(h(SALT.byte, i), i);
      return length;
    }
    case "valid":
      return out.write(
        `6,${a % 100000},${b},-;ncb1:1:${(b % 1e6).toString(36)} valid ${a}\n`,
        0,
        "latin1",
      );
    case "mutated": {
      const length = out.write(
        `6.1.0,${a % 4},${a % 100000},${b},c,caller=T${b % 99},ncfrag=${a % 50}/${(b % 900) + 50};body ${a}\n k=v\n`,
        0,
        "latin1",
      );
      for (let k = 0; k < 1 + (a % 3); k++) out[h(SALT.c, k) % length] = h(SALT.byte, k) & 0xff;
      return length;
    }
    case "ncfrag-abuse": {
      const offset = a % 3 === 0 ? `0x${(b % 100000).toString(16)}` : String(b % 9000);
      const total = a % 5 === 0 ? String(2 ** 53 - 1 - (b % 10)) : String(a % 9000);
      const head = `6,${b % 1000},1,-,${a % 7 === 0 ? "ncemg=1," : ""}ncfrag=${offset}/${total};`;
      const at = out.write(head, 0, "latin1");
      const data = a % 1000;
      out.fill(0x41 + (b % 26), at, at + data);
      return at + data;
    }
    case "emergency-jump":
      return out.write(
        `6,${a % 2 === 0 ? 2 ** 53 - 1 - (b % 1000) : b * 65536 + a},0,-,ncemg=1;jump\n`,
        0,
        "latin1",
      );
    case "huge-seq":
      return out.write(
        `6,${a % 3 === 0 ? 2 ** 53 + b : (a % 1e6) * 1e9 + b},0,-;huge\n`,
        0,
        "latin1",
      );
    case "kernel-nul": {
      const at = out.write(`6.8.0,6,${a % 100000},${b},-;`, 0, "latin1");
      out.fill(0x78, at, 1000);
      if (a % 2 === 0) out[999] = 0;
      return 1000;
    }
    case "legacy-escapes":
      return out.write(`[ 12.345678] forged\nline\x1b[2J\x00\x9b ${a}\n`, 0, "latin1");
    default: {
      // The two halves of a 200-byte message (the same seq from the pair's hash); one pair in
      // four repeats its first half instead, so that message never completes.
      const pair = hash32(seed, index >>> 1, 0, SALT.a);
      const second = (index & 1) === 1 && pair % 4 !== 0;
      const at = out.write(`6,${pair % 5000},1,-,ncfrag=${second ? 100 : 0}/200;`, 0, "latin1");
      out.fill(0x61, at, at + 100);
      return at + 100;
    }
  }
}

/** The source (0 .. sources-1) datagram `index` comes from. */
export function hostileSource(seed: number, index: number, sources: number): number {
  const key = isPair(seed, index) ? index >>> 1 : index;
  return hash32(seed, key, isPair(seed, index) ? 1 : 0, SALT.source) % sources;
}
