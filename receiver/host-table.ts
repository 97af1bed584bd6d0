/**
 * The receiver's host index: a source address (its ASCII text, as bytes) -> a small integer slot,
 * found without making a string. Slots are handed out by the owner (the sequence tracker, which
 * bounds them with --max-hosts); this table only maps keys to them, chained hashing in typed
 * arrays. The key string of a slot is made only when someone asks for it, and then kept.
 *
 * Keys are compared on their length, their hash and their first KEY_BYTES bytes: an address text
 * is at most 45 bytes (IPv6 with an embedded IPv4) plus a zone name, so in practice exactly.
 */

/** Bytes of a key stored per slot. */
export const KEY_BYTES = 64;
const NONE = -1;

/** FNV-1a over bytes [at, at + length); receiver/route.ts picks a source's worker with it too. */
export function hashBytes(bytes: Uint8Array, at: number, length: number): number {
  let h = 0x811c9dc5;
  for (let i = at; i < at + length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

export class HostTable {
  private capacity = 0;
  private buckets = new Int32Array(1).fill(NONE);
  private mask = 0;
  private chain = new Int32Array(0);
  private hashes = new Int32Array(0);
  private lengths = new Uint8Array(0);
  private keyBytes = new Uint8Array(0);
  private readonly strings: (string | undefined)[] = [];
  /** Scratch for looking a string key up (latin1 bytes of it). */
  private scratch = Buffer.alloc(256);

  /** Makes room for slots [0, capacity). */
  grow(capacity: number): void {
    if (capacity <= this.capacity) return;
    const chain = new Int32Array(capacity).fill(NONE);
    const hashes = new Int32Array(capacity);
    hashes.set(this.hashes);
    const lengths = new Uint8Array(capacity);
    lengths.set(this.lengths);
    const keyBytes = new Uint8Array(capacity * KEY_BYTES);
    keyBytes.set(this.keyBytes);
    let size = 1;
    while (size < capacity) size <<= 1;
    const buckets = new Int32Array(size).fill(NONE);
    const mask = size - 1;
    // Re-chain every slot in use (a slot is in use when it sits in some chain).
    for (let b = 0; b < this.buckets.length; b++) {
      for (let s = this.buckets[b]; s !== NONE; s = this.chain[s]) {
        const at = hashes[s] & mask;
        chain[s] = buckets[at];
        buckets[at] = s;
      }
    }
    this.chain = chain;
    this.hashes = hashes;
    this.lengths = lengths;
    this.keyBytes = keyBytes;
    this.buckets = buckets;
    this.mask = mask;
    this.capacity = capacity;
  }

  /** The slot of the key bytes[at, at + length), or -1. Allocates nothing. */
  find(bytes: Uint8Array, at: number, length: number, hash: number): number {
    const keyBytes = this.keyBytes;
    const n = length < KEY_BYTES ? length : KEY_BYTES;
    for (let s = this.buckets[hash & this.mask]; s !== NONE; s = this.chain[s]) {
      if (this.hashes[s] !== hash || this.lengths[s] !== (length > 255 ? 255 : length)) continue;
      const base = s * KEY_BYTES;
      let k = 0;
      while (k < n && keyBytes[base + k] === bytes[at + k]) k++;
      if (k === n) return s;
    }
    return NONE;
  }

  /** Files `slot` under the key (the slot must be free in this table and below capacity). */
  insert(bytes: Uint8Array, at: number, length: number, hash: number, slot: number): void {
    this.hashes[slot] = hash;
    this.lengths[slot] = length > 255 ? 255 : length;
    const n = length < KEY_BYTES ? length : KEY_BYTES;
    const base = slot * KEY_BYTES;
    for (let k = 0; k < n; k++) this.keyBytes[base + k] = bytes[at + k];
    const b = hash & this.mask;
    this.chain[slot] = this.buckets[b];
    this.buckets[b] = slot;
    this.strings[slot] = undefined;
  }

  /** Takes `slot` out of the table. */
  remove(slot: number): void {
    const b = this.hashes[slot] & this.mask;
    let s = this.buckets[b];
    if (s === slot) {
      this.buckets[b] = this.chain[slot];
    } else {
      while (s !== NONE && this.chain[s] !== slot) s = this.chain[s];
      if (s !== NONE) this.chain[s] = this.chain[slot];
    }
    this.chain[slot] = NONE;
    this.strings[slot] = undefined;
  }

  /** The key text of a slot in use (made on first request, then kept until the slot is removed). */
  keyOf(slot: number): string {
    let key = this.strings[slot];
    if (key === undefined) {
      const base = slot * KEY_BYTES;
      const n = Math.min(this.lengths[slot], KEY_BYTES);
      key = Buffer.from(this.keyBytes.buffer, this.keyBytes.byteOffset + base, n).toString(
        "latin1",
      );
      this.strings[slot] = key;
    }
    return key;
  }

  /**
   * The key text's bytes in a reused scratch buffer (for string lookups: tests, the sender's
   * truth); valid until the next call. Returns the byte length.
   */
  scratchOf(key: string): { bytes: Buffer; length: number } {
    if (key.length > this.scratch.length) this.scratch = Buffer.alloc(key.length * 2);
    const length = this.scratch.write(key, 0, "latin1");
    return { bytes: this.scratch, length };
  }
}
