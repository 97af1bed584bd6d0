/**
 * The writer that turns a host's next record into datagram payloads in a reusable slab.
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
  type KernelRecord,
  legacyTimePrefix,
  MAX_PRINT_CHUNK,
} from "./codec.ts";
import type { ContentOptions } from "./content.ts";
import { RELEASES } from "./corpus.ts";
import { decimalLength, writeDecimal } from "./digits.ts";
import type { HostTable } from "./host-table.ts";
import {
  CUMULATIVE,
  cutRaw,
  enc,
  type Packed,
  RECORDS,
  RELEASE_BYTES,
  SCRIPT_END,
  SCRIPT_START,
} from "./packed-corpus.ts";
import { hash32, SALT, unit } from "./random.ts";
import { formatStamp, stampLength, writeStamp } from "./stamp.ts";

/** Simulated CPUs per host (for sysdata cpu and `caller=C<cpu>`). */
const CPUS = 8;

const FILLER = enc("0123456789".repeat(7000));
const NOTHING = Buffer.alloc(0);
const CALLER = enc(",caller=");
const CPU = enc(" cpu=");
const TASKNAME = enc(" taskname=");
const RELEASE = enc(" release=");
const MSGID = enc(" msgid=");

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
        hosts.silence(j);
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

  /** Bytes of the current message's stamp (0 without stamps). */
  private stampLength(): number {
    return this.options.stamp ? stampLength(this.m.host, this.m.intendedUs) : 0;
  }

  /** The current message's stamp as bytes (empty without stamps), for the codec's path. */
  private stampBytes(): Buffer {
    return this.options.stamp ? enc(formatStamp(this.m.host, this.m.intendedUs)) : NOTHING;
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
    if (stampLen > 0) at = writeStamp(slab, at, m.host, m.intendedUs);
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
    if (stampLen > 0) at = writeStamp(slab, at, m.host, m.intendedUs);
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
