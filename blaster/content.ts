/**
 * Simulated kernels and what they log: per-host state in typed arrays (21 bytes a host, so a
 * million hosts take 21 MB; 25 with impairments or truth), and the writer that turns a host's next record into
 * datagram payloads in a reusable slab.
 *
 * Hot path: a record that fits one datagram (nearly all of them) is written straight into the
 * slab from pre-encoded pieces (escaped text, dictionary lines, userdata), with the numbers
 * (seq, timestamp, stamp, msgid) written as digits in place: no strings, no allocation. Records
 * that fragment, and legacy lines longer than a datagram, go through the codec
 * (blaster/codec.ts), the single definition of the wire format; test/blaster-content.test.ts
 * checks that the fast path writes exactly the codec's bytes.
 */
import {
  type EncodeOptions,
  encodeExtended,
  encodeLegacy,
  escapeKernel,
  type KernelRecord,
  legacyTimePrefix,
  MAX_PRINT_CHUNK,
} from "./codec.ts";
import { type CorpusRecord, PANIC_SCRIPT, RELEASES, SCRIPTS } from "./corpus.ts";
import { hash32, SALT, unit } from "./random.ts";

export type Format = "extended" | "legacy" | "mixed";
export type SizeSpec =
  | { kind: "realistic" }
  | { kind: "fixed"; bytes: number }
  | { kind: "range"; min: number; max: number };

export interface SysdataFields {
  cpu: boolean;
  taskname: boolean;
  release: boolean;
  msgid: boolean;
}

export interface ContentOptions {
  seed: number;
  /** All hosts of the run. */
  hosts: number;
  format: Format;
  size: SizeSpec;
  /** Put the latency stamp (blaster/stamp.ts) at the start of each message's text. */
  stamp: boolean;
  /** Prefix extended payloads with the kernel release (netconsole's `r` flag). */
  releasePrefix: boolean;
  sysdata: SysdataFields;
  userdata: [string, string][];
  /** Add `,caller=T<pid>` / `C<cpu>` (CONFIG_PRINTK_CALLER). */
  caller: boolean;
  /** First seq of every host, or "random" (per host, from the seed). */
  startSeq: number | "random";
  /** Share of hosts that panic in storm mode (0 = none). */
  stormShare: number;
}

export const NO_SYSDATA: SysdataFields = {
  cpu: false,
  taskname: false,
  release: false,
  msgid: false,
};

/** Simulated CPUs per host (for sysdata cpu and `caller=C<cpu>`). */
const CPUS = 8;

/** A corpus record with its wire pieces encoded once. */
interface Packed {
  record: CorpusRecord;
  prival: number;
  cont: boolean;
  /** The text as bytes (UTF-8), and kernel-escaped. */
  raw: Buffer;
  escaped: Buffer;
  /** True when escaping changes nothing (printable ASCII without backslash). */
  safe: boolean;
  /**
   * For texts that escaping changes: cut[b] = the longest prefix of `escaped` of at most b bytes
   * that does not split an escape (so cutting needs no work per message).
   */
  cut: Uint16Array | null;
  /** Lines of the text (a record with embedded newlines prints as several console lines). */
  lines: number;
  /** Continuation records (LOG_CONT) right after this one in its script. */
  contFollowing: number;
  /** The console line: this record's text with its continuation pieces appended (legacy). */
  line: Buffer;
  /** ` KEY=VALUE\n` lines of the dictionary, escaped. */
  dict: Buffer;
  task: Buffer;
}

const enc = (s: string) => Buffer.from(s, "latin1");

const RECORDS: Packed[] = [];
const SCRIPT_START: number[] = [];
const SCRIPT_LENGTH: number[] = [];
for (const script of SCRIPTS) {
  SCRIPT_START.push(RECORDS.length);
  SCRIPT_LENGTH.push(script.records.length);
  script.records.forEach((record, i) => {
    // The continuation pieces that follow this record, which a console prints on its line.
    let following = 0;
    while (script.records[i + 1 + following]?.cont) following++;
    const raw = Buffer.from(record.text, "utf8");
    const escaped = Buffer.from(escapeKernel(raw));
    let dict = "";
    for (const [k, v] of record.dict ?? []) {
      dict += ` ${escapeKernel(Buffer.from(k)).toString("latin1")}=${escapeKernel(Buffer.from(v)).toString("latin1")}\n`;
    }
    RECORDS.push({
      record,
      prival: ((record.facility & 31) << 3) | (record.level & 7),
      cont: record.cont === true,
      raw,
      escaped,
      safe: escaped.length === raw.length,
      cut: escaped.length === raw.length ? null : cutTable(raw, escaped.length),
      lines: record.text.split("\n").length,
      contFollowing: following,
      line:
        following === 0
          ? raw
          : Buffer.from(
              script.records
                .slice(i, i + 1 + following)
                .map((r) => r.text)
                .join(""),
              "utf8",
            ),
      dict: enc(dict),
      task: Buffer.from(record.task, "utf8"),
    });
  });
}

/** Cumulative script weights for the weighted pick of a host's next script. */
const CUMULATIVE: number[] = [];
{
  let total = 0;
  for (const s of SCRIPTS) {
    total += s.weight;
    CUMULATIVE.push(total);
  }
  for (let i = 0; i < CUMULATIVE.length; i++) CUMULATIVE[i] /= total;
}

const RELEASE_BYTES = RELEASES.map(enc);
const FILLER = enc("0123456789".repeat(7000));
const STAMP_PREFIX = enc("ncb1:");
const NOTHING = Buffer.alloc(0);
const CALLER = enc(",caller=");
const CPU = enc(" cpu=");
const TASKNAME = enc(" taskname=");
const RELEASE = enc(" release=");
const MSGID = enc(" msgid=");

/** Host flags. */
const LEGACY = 1;
const STORM = 2;
const DEAD = 4;

/** One datagram written by `writeMessage`, described in parallel arrays. */
export interface DatagramList {
  offset: Int32Array;
  length: Int32Array;
  fragment: Int32Array;
  fragments: Int32Array;
  count: number;
}

export function datagramList(capacity: number): DatagramList {
  return {
    offset: new Int32Array(capacity),
    length: new Int32Array(capacity),
    fragment: new Int32Array(capacity),
    fragments: new Int32Array(capacity),
    count: 0,
  };
}

/** Script index of a host that has not started a script yet (its script "ends" at record 0). */
const NO_SCRIPT = SCRIPTS.length;
/** SCRIPT_END[s]: the record after script s (NO_SCRIPT: 0, so the first write picks a script). */
const SCRIPT_END = [...SCRIPT_START.map((start, s) => start + SCRIPT_LENGTH[s]), 0];
// The per-host cursor and script index are Uint16 and Uint8.
if (RECORDS.length > 0xffff || NO_SCRIPT > 0xff) throw new Error("the corpus outgrew HostTable");

/**
 * The per-host state of a shard of hosts: local index j is global host `first + j * stride`.
 *
 * Memory is the point here (a million hosts per worker): only what evolves is stored, 21 bytes
 * a host. What can be computed is not stored: the first seq is a hash of (seed, host), or the
 * --start-seq (one more hash per message, a few ns against ~0.4 µs of engine work per packet),
 * the msgid is 1 + the messages so far, the script's end comes from the script's index.
 */
export class HostTable {
  readonly count: number;
  readonly first: number;
  readonly stride: number;
  private readonly seed: number;
  /** The --start-seq given, or null for a random first seq per host. */
  private readonly fixedStart: number | null;
  /** Next seq of each host (float64: the kernel's seq is 64 bits, a start may exceed 2^32). */
  readonly seq: Float64Array;
  /** Next printk timestamp (µs since the simulated boot). */
  readonly tsUs: Float64Array;
  /** Next corpus record, and the script being played (its end is SCRIPT_END[script]). */
  readonly cursor: Uint16Array;
  readonly script: Uint8Array;
  readonly flags: Uint8Array;
  /** Index into RELEASES. */
  readonly release: Uint8Array;
  /**
   * Datagrams generated per host (the index impairment decisions hash, and the truth's count);
   * only kept when `countDatagrams` (4 more bytes a host), else empty.
   */
  readonly datagrams: Uint32Array;

  constructor(options: ContentOptions, first: number, stride: number, countDatagrams = true) {
    const count = Math.max(0, Math.ceil((options.hosts - first) / stride));
    this.count = count;
    this.first = first;
    this.stride = stride;
    const { seed } = options;
    this.seed = seed;
    this.fixedStart = options.startSeq === "random" ? null : options.startSeq;
    this.seq = new Float64Array(count);
    this.tsUs = new Float64Array(count);
    this.cursor = new Uint16Array(count);
    this.script = new Uint8Array(count).fill(NO_SCRIPT);
    this.flags = new Uint8Array(count);
    this.release = new Uint8Array(count);
    this.datagrams = new Uint32Array(countDatagrams ? count : 0);
    for (let j = 0; j < count; j++) {
      const host = first + j * stride;
      this.seq[j] = this.startSeq(j);
      // Uptime between 1 s and ~30 days, as if the host had booted a while ago.
      this.tsUs[j] = 1_000_000 + Math.floor(unit(seed, host, 0, SALT.startTs) * 2.6e12);
      this.release[j] = hash32(seed, host, 0, SALT.release) % RELEASES.length;
      let f = 0;
      if (options.format === "legacy") f |= LEGACY;
      else if (options.format === "mixed" && unit(seed, host, 0, SALT.format) < 0.5) f |= LEGACY;
      if (options.stormShare > 0 && unit(seed, host, 0, SALT.storm) < options.stormShare)
        f |= STORM;
      this.flags[j] = f;
    }
  }

  /** The global host index of local index j. */
  host(j: number): number {
    return this.first + j * this.stride;
  }

  /** Host j's first seq: the chosen one, or a hash of (seed, host). */
  startSeq(j: number): number {
    return this.fixedStart !== null
      ? this.fixedStart
      : hash32(this.seed, this.first + j * this.stride, 0, SALT.startSeq);
  }

  isLegacy(j: number): boolean {
    return (this.flags[j] & LEGACY) !== 0;
  }
  isStorm(j: number): boolean {
    return (this.flags[j] & STORM) !== 0;
  }
  isDead(j: number): boolean {
    return (this.flags[j] & DEAD) !== 0;
  }
  /** Messages this host has generated so far. */
  messages(j: number): number {
    return this.seq[j] - this.startSeq(j);
  }
  /** Start the panic script now (storm mode); the host goes silent after it. */
  startPanic(j: number): void {
    this.cursor[j] = SCRIPT_START[PANIC_SCRIPT];
    this.script[j] = PANIC_SCRIPT;
  }
  /** True while a panicking host still has records to send. */
  panicking(j: number): boolean {
    return this.isStorm(j) && !this.isDead(j) && this.script[j] === PANIC_SCRIPT;
  }
}

/** The facts of the message being written (one reused object: no allocation per message). */
interface Current {
  p: Packed;
  host: number;
  seq: number;
  tsUs: number;
  cpu: number;
  msgid: number;
  intendedUs: number;
  release: number;
}

/**
 * Writes messages of a HostTable into a slab. One instance per worker; not re-entrant.
 * `reference`: write every message through the codec (tests compare the fast path with it).
 */
export class MessageWriter {
  private readonly options: ContentOptions;
  private readonly reference: boolean;
  private readonly userdata: Buffer;
  private readonly encodeOptions: EncodeOptions[] = RELEASES.map((release) => ({ release }));
  private readonly m: Current = {
    p: RECORDS[0],
    host: 0,
    seq: 0,
    tsUs: 0,
    cpu: 0,
    msgid: 0,
    intendedUs: 0,
    release: 0,
  };
  /** Facts about the last message written (read by the engine for truth and counters). */
  lastSeq = 0;
  lastLegacy = false;

  constructor(options: ContentOptions, reference = false) {
    this.options = options;
    this.reference = reference;
    let ud = "";
    for (const [k, v] of options.userdata) {
      if (v.length > 0) ud += ` ${k}=${v}\n`;
    }
    this.userdata = Buffer.from(ud, "utf8");
  }

  /**
   * Generates host j's next message into `slab` at `at`, appending its datagrams to `out`.
   * `intendedUs` goes into the stamp. Returns the slab position after the message. A host that
   * panicked and finished its panic script writes nothing (returns `at`).
   */
  write(
    hosts: HostTable,
    j: number,
    intendedUs: number,
    slab: Buffer,
    at: number,
    out: DatagramList,
  ): number {
    if (hosts.isDead(j)) return at;
    const { seed } = this.options;
    const host = hosts.host(j);
    const n = hosts.messages(j);
    // One hash per message gives its small random choices (time step, cpu).
    const h = hash32(seed, host, n, SALT.record);
    // Pick the next record: continue the script being played, or pick the next script.
    let stepUs: number;
    if (hosts.cursor[j] >= SCRIPT_END[hosts.script[j]]) {
      if (hosts.panicking(j)) {
        hosts.flags[j] |= DEAD;
        return at;
      }
      const u = unit(seed, host, n, SALT.script);
      let s = 0;
      while (CUMULATIVE[s] <= u && s < CUMULATIVE.length - 1) s++;
      hosts.cursor[j] = SCRIPT_START[s];
      hosts.script[j] = s;
      // Between scripts: 1 ms .. ~3 s of quiet.
      stepUs = 1000 + (h % 3_000_000);
    } else {
      // Inside a script (a stack trace...): records follow each other within microseconds.
      stepUs = 3 + (h % 200);
    }
    const m = this.m;
    m.p = RECORDS[hosts.cursor[j]++];
    m.host = host;
    m.seq = hosts.seq[j];
    m.tsUs = hosts.tsUs[j];
    m.msgid = (n + 1) % 0x1_0000_0000; // counts from 1 per host, 32 bits as the kernel's
    m.cpu = (h >>> 24) % CPUS;
    m.intendedUs = intendedUs;
    m.release = hosts.release[j];
    hosts.seq[j] = m.seq + 1;
    hosts.tsUs[j] = m.tsUs + stepUs;
    this.lastSeq = m.seq;
    const legacy = hosts.isLegacy(j);
    this.lastLegacy = legacy;
    const size = this.bodyBudget(host, n);
    // A legacy console shows a line with its continuation pieces (pr_cont) as one line: they
    // are one message. (Extended consoles get them as separate records with the `c` flag.)
    if (legacy && size < 0 && m.p.contFollowing > 0) hosts.cursor[j] += m.p.contFollowing;
    return legacy ? this.writeLegacy(size, slab, at, out) : this.writeExtended(size, slab, at, out);
  }

  /** The message size asked for (-1 = the record's own length). */
  private bodyBudget(host: number, n: number): number {
    const size = this.options.size;
    if (size.kind === "realistic") return -1;
    if (size.kind === "fixed") return size.bytes;
    return size.min + (hash32(this.options.seed, host, n, SALT.size) % (size.max - size.min + 1));
  }

  private stampLength(): number {
    if (!this.options.stamp) return 0;
    const m = this.m;
    return (
      STAMP_PREFIX.length + base36Length(m.host) + 1 + base36Length(Math.floor(m.intendedUs)) + 1
    );
  }

  private writeStamp(slab: Buffer, at: number): number {
    const m = this.m;
    slab.set(STAMP_PREFIX, at);
    let i = writeBase36(slab, at + STAMP_PREFIX.length, m.host);
    slab[i++] = 0x3a;
    i = writeBase36(slab, i, Math.floor(m.intendedUs));
    slab[i++] = 0x20;
    return i;
  }

  private stampBytes(): Buffer {
    const stamp = Buffer.alloc(this.stampLength());
    if (stamp.length > 0) this.writeStamp(stamp, 0);
    return stamp;
  }

  private writeExtended(size: number, slab: Buffer, at: number, out: DatagramList): number {
    const o = this.options;
    const m = this.m;
    const p = m.p;
    const release = RELEASE_BYTES[m.release];
    const callerId = p.record.pid === 0 ? m.cpu : p.record.pid;
    // Lengths first: the header and suffix decide how much text fits the asked size.
    let head = decimalLength(p.prival) + 1 + decimalLength(m.seq) + 1 + decimalLength(m.tsUs) + 2;
    if (o.releasePrefix) head += release.length + 1;
    if (o.caller) head += 9 + decimalLength(callerId); // ",caller=T"
    // A fixed or ranged size is exact: the corpus's dictionary lines (SUBSYSTEM, DEVICE) would
    // not fit small sizes, so only realistic sizes carry them. Userdata and sysdata, which the
    // user asked for, stay and count in the size.
    const dict = size < 0 ? p.dict : NOTHING;
    let suffix = dict.length + this.userdata.length;
    const sys = o.sysdata;
    if (sys.cpu) suffix += 6 + decimalLength(m.cpu);
    if (sys.taskname) suffix += 11 + p.task.length;
    if (sys.release) suffix += 10 + release.length;
    if (sys.msgid) suffix += 8 + decimalLength(m.msgid);
    const stampLen = this.stampLength();
    // head ";" stamp text LF suffix
    const fixed = head + 1 + stampLen + 1 + suffix;
    const textBudget = size < 0 ? p.escaped.length : Math.max(0, size - fixed);
    if (this.reference || fixed + textBudget > MAX_PRINT_CHUNK) {
      return copyParts(
        encodeExtended(
          this.record(size < 0 ? -1 : textBudget),
          o.releasePrefix ? this.encodeOptions[m.release] : undefined,
        ),
        slab,
        at,
        out,
      );
    }
    const start = at;
    if (o.releasePrefix) {
      at = copy(release, slab, at);
      slab[at++] = 0x2c;
    }
    at = writeDecimal(slab, at, p.prival);
    slab[at++] = 0x2c;
    at = writeDecimal(slab, at, m.seq);
    slab[at++] = 0x2c;
    at = writeDecimal(slab, at, m.tsUs);
    slab[at++] = 0x2c;
    slab[at++] = p.cont ? 0x63 : 0x2d; // c | -
    if (o.caller) {
      at = copy(CALLER, slab, at);
      slab[at++] = p.record.pid === 0 ? 0x43 : 0x54; // C | T
      at = writeDecimal(slab, at, callerId);
    }
    slab[at++] = 0x3b; // ;
    if (stampLen > 0) at = this.writeStamp(slab, at);
    at = writeText(p, textBudget, slab, at, true);
    slab[at++] = 0x0a;
    at = copy(dict, slab, at);
    at = copy(this.userdata, slab, at);
    if (sys.cpu) {
      at = copy(CPU, slab, at);
      at = writeDecimal(slab, at, m.cpu);
      slab[at++] = 0x0a;
    }
    if (sys.taskname) {
      at = copy(TASKNAME, slab, at);
      at = copy(p.task, slab, at);
      slab[at++] = 0x0a;
    }
    if (sys.release) {
      at = copy(RELEASE, slab, at);
      at = copy(release, slab, at);
      slab[at++] = 0x0a;
    }
    if (sys.msgid) {
      at = copy(MSGID, slab, at);
      at = writeDecimal(slab, at, m.msgid);
      slab[at++] = 0x0a;
    }
    push(out, start, at - start, 0, 1);
    return at;
  }

  /** The current message as a codec record; textBudget -1 = the record's whole text. */
  private record(textBudget: number): KernelRecord {
    const o = this.options;
    const m = this.m;
    const p = m.p;
    const sysdata: KernelRecord["sysdata"] = {};
    if (o.sysdata.cpu) sysdata.cpu = m.cpu;
    if (o.sysdata.taskname) sysdata.taskname = p.record.task;
    if (o.sysdata.release) sysdata.release = RELEASES[m.release];
    if (o.sysdata.msgid) sysdata.msgid = m.msgid;
    return {
      facility: p.record.facility,
      level: p.record.level,
      seq: m.seq,
      tsUs: m.tsUs,
      cont: p.cont,
      caller: o.caller ? (p.record.pid === 0 ? `C${m.cpu}` : `T${p.record.pid}`) : undefined,
      text: Buffer.concat([this.stampBytes(), rawText(p, textBudget, true)]),
      dict: textBudget < 0 ? p.record.dict : undefined,
      userdata: o.userdata,
      sysdata,
    };
  }

  private writeLegacy(size: number, slab: Buffer, at: number, out: DatagramList): number {
    // A legacy console line: `[%5lu.%06lu] ` + stamp + raw text (no escaping) + LF.
    const m = this.m;
    const p = m.p;
    const secs = Math.floor(m.tsUs / 1_000_000);
    const timeLen = Math.max(5, decimalLength(secs)) + 10;
    const stampLen = this.stampLength();
    const fixed = timeLen + stampLen + 1;
    const textBudget = size < 0 ? p.raw.length : Math.max(0, size - fixed);
    if (size < 0 && p.contFollowing > 0) {
      const line = Buffer.concat([this.stampBytes(), p.line]);
      return copyParts(encodeLegacy(line, { tsUs: m.tsUs }), slab, at, out);
    }
    if (size < 0 && p.lines > 1) {
      // A record of several lines: the console prints the time prefix before every line
      // (record_print_text), all with the record's time; the stamp only once, at the start.
      const prefix = legacyTimePrefix(m.tsUs);
      const text = `${prefix}${this.stampBytes().toString("latin1")}${p.raw
        .toString("latin1")
        .replaceAll("\n", `\n${prefix}`)}`;
      return copyParts(encodeLegacy(Buffer.from(text, "latin1")), slab, at, out);
    }
    if (this.reference || fixed + textBudget > MAX_PRINT_CHUNK) {
      const line = Buffer.concat([this.stampBytes(), rawText(p, textBudget, false)]);
      return copyParts(encodeLegacy(line, { tsUs: m.tsUs }), slab, at, out);
    }
    const start = at;
    slab[at++] = 0x5b; // [
    for (let pad = 5 - decimalLength(secs); pad > 0; pad--) slab[at++] = 0x20;
    at = writeDecimal(slab, at, secs);
    slab[at++] = 0x2e;
    const usecs = Math.floor(m.tsUs % 1_000_000);
    for (let pad = 6 - decimalLength(usecs); pad > 0; pad--) slab[at++] = 0x30;
    at = writeDecimal(slab, at, usecs);
    slab[at++] = 0x5d;
    slab[at++] = 0x20;
    if (stampLen > 0) at = this.writeStamp(slab, at);
    at = writeText(p, textBudget, slab, at, false);
    slab[at++] = 0x0a;
    push(out, start, at - start, 0, 1);
    return at;
  }
}

function copy(bytes: Buffer, slab: Buffer, at: number): number {
  return copyRange(bytes, 0, bytes.length, slab, at);
}

/** Copies src[from, to) to slab at `at`; a plain loop for short runs (no subarray object). */
function copyRange(src: Buffer, from: number, to: number, slab: Buffer, at: number): number {
  const n = to - from;
  if (n > 64) {
    slab.set(from === 0 && to === src.length ? src : src.subarray(from, to), at);
  } else {
    for (let i = 0; i < n; i++) slab[at + i] = src[from + i];
  }
  return at + n;
}

function push(
  out: DatagramList,
  offset: number,
  length: number,
  fragment: number,
  fragments: number,
) {
  const i = out.count++;
  out.offset[i] = offset;
  out.length[i] = length;
  out.fragment[i] = fragment;
  out.fragments[i] = fragments;
}

function copyParts(parts: Buffer[], slab: Buffer, at: number, out: DatagramList): number {
  for (let i = 0; i < parts.length; i++) {
    slab.set(parts[i], at);
    push(out, at, parts[i].length, i, parts.length);
    at += parts[i].length;
  }
  return at;
}

/**
 * How many raw text bytes fit `budget` bytes on the wire (escaped: a byte that needs an escape
 * takes 4), and how many wire bytes they take. A cut never splits an escape.
 */
function cutRaw(raw: Buffer, budget: number, escaped: boolean): { bytes: number; wire: number } {
  if (!escaped) {
    const bytes = Math.min(budget, raw.length);
    return { bytes, wire: bytes };
  }
  let wire = 0;
  let i = 0;
  for (; i < raw.length; i++) {
    const w = needsEscape(raw[i]) ? 4 : 1;
    if (wire + w > budget) break;
    wire += w;
  }
  return { bytes: i, wire };
}

function cutTable(raw: Buffer, escapedLength: number): Uint16Array {
  const table = new Uint16Array(escapedLength + 1);
  for (let b = 0; b <= escapedLength; b++) table[b] = cutRaw(raw, b, true).wire;
  return table;
}

/**
 * Writes `budget` bytes of text: the record's text (escaped for extended), cut where the budget
 * ends, then filler digits up to the budget.
 */
function writeText(p: Packed, budget: number, slab: Buffer, at: number, escaped: boolean): number {
  const src = escaped ? p.escaped : p.raw;
  if (budget >= src.length) return fill(slab, copy(src, slab, at), budget - src.length);
  if (escaped && p.cut) {
    const wire = p.cut[budget];
    return fill(slab, copyRange(src, 0, wire, slab, at), budget - wire);
  }
  return copyRange(src, 0, budget, slab, at);
}

function fill(slab: Buffer, at: number, n: number): number {
  if (n <= 0) return at;
  return copyRange(FILLER, 0, n, slab, at);
}

/** The raw text that writeText puts on the wire (budget -1: the whole text). */
function rawText(p: Packed, budget: number, escaped: boolean): Buffer {
  if (budget < 0) return p.raw;
  const cut = cutRaw(p.raw, budget, escaped);
  return Buffer.concat([p.raw.subarray(0, cut.bytes), FILLER.subarray(0, budget - cut.wire)]);
}

function needsEscape(byte: number): boolean {
  return byte < 0x20 || byte >= 0x7f || byte === 0x5c;
}

/** 10^i for i = 0..16 (every safe integer has at most 16 digits). */
const POW10 = Array.from({ length: 17 }, (_, i) => 10 ** i);

/** Digits of a non-negative safe integer. */
export function decimalLength(n: number): number {
  // Seqs and timestamps mostly have 9+ digits: start the search there.
  let len = n >= 1e8 ? 9 : 1;
  while (len < 16 && n >= POW10[len]) len++;
  return len;
}

export function writeDecimal(buf: Buffer, at: number, n: number): number {
  const len = decimalLength(n);
  let i = at + len - 1;
  // Digits below 10^8 with 32-bit integer arithmetic (float division is the slow part here);
  // seqs and microsecond timestamps are mostly larger than 2^31.
  if (n >= 1e8) {
    const hi = Math.floor(n / 1e8);
    let lo = n - hi * 1e8;
    for (let k = 0; k < 8; k++) {
      const q = (lo / 10) | 0;
      buf[i--] = 0x30 + lo - q * 10;
      lo = q;
    }
    n = hi;
  }
  do {
    const q = (n / 10) | 0;
    buf[i--] = 0x30 + n - q * 10;
    n = q;
  } while (n > 0);
  return at + len;
}

const POW36 = Array.from({ length: 11 }, (_, i) => 36 ** i);

function base36Length(n: number): number {
  let len = n >= POW36[5] ? 6 : 1;
  while (len < 10 && n >= POW36[len]) len++;
  return len;
}

function writeBase36(buf: Buffer, at: number, n: number): number {
  const len = base36Length(n);
  let i = at + len - 1;
  // As writeDecimal: the low 5 digits (36^5 < 2^31) with integer arithmetic.
  if (n >= POW36[5]) {
    const hi = Math.floor(n / POW36[5]);
    let lo = n - hi * POW36[5];
    for (let k = 0; k < 5; k++) {
      const q = (lo / 36) | 0;
      const d = lo - q * 36;
      buf[i--] = d < 10 ? 0x30 + d : 0x57 + d;
      lo = q;
    }
    n = hi;
  }
  do {
    const q = (n / 36) | 0;
    const d = n - q * 36;
    buf[i--] = d < 10 ? 0x30 + d : 0x57 + d;
    n = q;
  } while (n > 0);
  return at + len;
}
