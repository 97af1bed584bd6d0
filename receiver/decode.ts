/**
 * The netconsole decoder: one datagram payload in, a typed result out, classified the way
 * netconsd's ncrx does it: every payload is tried as extended first; if its header does not
 * parse it is legacy.
 *
 * Where ncrx is tolerant we are too: numbers in C `strtoull(.., 0)` form (`0x11` is 17),
 * missing trailing fields (`5;x` is prival 5, seq 0, ts 0), unknown header fields ignored, no
 * trailing LF. Where it guards memory we are stricter: a fragment whose bounds do not fit, or whose
 * total exceeds the configured cap, is `malformed` instead of being passed on as legacy text.
 *
 * Two forms: decodeInto() fills a reused DatagramView with positions and numbers (the receiver's
 * per-datagram path: no allocation, text and dictionary left undecoded), decodePayload() gives
 * the object form whose byte fields are views into the payload.
 */

export type Decoded = DecodedExtended | DecodedLegacy | DecodedMalformed;

export interface ExtendedFlags {
  /** Flag `c`: LOG_CONT, the record continues a line. */
  contStart: boolean;
  /** Flag `+` (kernels 3.5-4.8): a following fragment of a continued line. */
  cont: boolean;
  /** `ncemg=1`: an emergency message, never treated as out of sequence. */
  emg: boolean;
}

/** The header fields of an extended record. */
export interface RecordHead {
  release?: string;
  facility: number;
  level: number;
  seq: number;
  tsUs: number;
  flags: ExtendedFlags;
  caller?: string;
}

export interface DecodedExtended extends RecordHead {
  kind: "extended";
  fragment?: { offset: number; total: number };
  /** The bytes after `;` as on the wire (for a fragment: this chunk only). */
  data: Buffer;
  /** Unescaped text (absent for a fragment). */
  text?: Buffer;
  /** Unescaped lines after the text, split on the first `=` (absent for a fragment). */
  dict?: [string, string][];
  /** The record ended in the kernel's NUL terminator (left out of data and text). */
  kernelNul?: true;
}

export interface DecodedLegacy {
  kind: "legacy";
  text: Buffer;
  /** Why the payload is not extended. */
  reason: string;
}

export interface DecodedMalformed {
  kind: "malformed";
  reason: string;
}

export interface DecodeOptions {
  /** Largest accepted `ncfrag` total (ncrx: below 8192; newer kernels with many userdata items exceed it). */
  maxMessageBytes?: number;
}

/** ncrx copies the header into a 1024-byte buffer: a longer header is not extended. */
export const MAX_HEADER_BYTES = 1024;
export const DEFAULT_MAX_MESSAGE_BYTES = 8192;

const SEMICOLON = 0x3b;
const COMMA = 0x2c;
const DOT = 0x2e;
const LF = 0x0a;
const BACKSLASH = 0x5c;

/** Reused result of number parsing, so the hot path allocates nothing for it. */
let parsedValue = 0;

/**
 * Parses bytes [start, end) like C `strtoull(s, &end, 0)` requiring the whole token to be used:
 * optional leading blanks and `+`, then `0x` hex, `0` octal or decimal. An empty token is 0, as in
 * ncrx (strtoull on "" consumes nothing and leaves `*end == '\0'`). Sets `parsedValue` (Infinity
 * beyond 2^53, which the callers refuse); returns false when the token is not a number.
 */
function parseCNumber(bytes: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end && (bytes[i] === 0x20 || (bytes[i] >= 0x09 && bytes[i] <= 0x0d))) i++;
  if (i < end && bytes[i] === 0x2b) i++;
  if (i === end) {
    parsedValue = 0;
    return i === start; // "" is 0; "  " or "+" consumed nothing numeric -> strtoull leaves end at start
  }
  let base = 10;
  if (bytes[i] === 0x30 && i + 1 < end && (bytes[i + 1] | 0x20) === 0x78) {
    base = 16;
    i += 2;
    if (i === end) return false;
  } else if (bytes[i] === 0x30) {
    base = 8;
  }
  let value = 0;
  for (; i < end; i++) {
    const c = bytes[i];
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (base === 16 && (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66) d = (c | 0x20) - 0x61 + 10;
    else return false;
    if (d >= base) return false;
    value = value * base + d;
  }
  parsedValue = value > Number.MAX_SAFE_INTEGER ? Number.POSITIVE_INFINITY : value;
  return true;
}

function startsWith(bytes: Uint8Array, start: number, end: number, ascii: string): boolean {
  if (end - start < ascii.length) return false;
  for (let k = 0; k < ascii.length; k++) if (bytes[start + k] !== ascii.charCodeAt(k)) return false;
  return true;
}

function asBuffer(payload: Uint8Array): Buffer {
  return Buffer.isBuffer(payload)
    ? payload
    : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
}

/** What decodeInto() found. */
export const Kind = { malformed: 0, extended: 1, legacy: 2 } as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** Why a payload is legacy or malformed (the text is made only when asked for: reason()). */
const Why = {
  none: 0,
  empty: 1,
  noSemicolon: 2,
  longHeader: 3,
  releaseOnly: 4,
  priority: 5,
  sequence: 6,
  timestamp: 7,
  fragTwice: 8,
  fragForm: 9,
  fragOffset: 10,
  fragTotal: 11,
  emgTwice: 12,
  emgNumber: 13,
  seqRange: 14,
  fragCap: 15,
  fragOffsetBound: 16,
  fragChunkBound: 17,
} as const;
type Why = (typeof Why)[keyof typeof Why];

/** The record length at which the kernel may send its terminating NUL (see decodeInto). */
export const KERNEL_RECORD_BYTES = 1000;

/**
 * One decoded datagram as positions in the caller's bytes: the receiver reuses one per worker so
 * its per-datagram path allocates nothing. Fields are valid until the next decodeInto() and only
 * while the bytes are (a ring's bytes are reused after the batch). message() builds the object
 * form (DecodedExtended / DecodedLegacy) when a sink or a test needs it.
 */
export class DatagramView {
  kind: Kind = Kind.malformed;
  bytes: Uint8Array = new Uint8Array(0);
  /** The payload is bytes[start, end). */
  start = 0;
  end = 0;
  /** The release prefix is bytes[releaseStart, releaseEnd) (releaseStart -1: none). */
  releaseStart = -1;
  releaseEnd = -1;
  facility = 0;
  level = 0;
  seq = 0;
  tsUs = 0;
  readonly flags: ExtendedFlags = { contStart: false, cont: false, emg: false };
  /** The caller field's value is bytes[callerStart, callerEnd) (-1: none). */
  callerStart = -1;
  callerEnd = -1;
  /** ncfrag offset and total (-1: not a fragment). */
  fragOffset = -1;
  fragTotal = -1;
  /** Extended: the data after `;` is bytes[dataStart, dataEnd). */
  dataStart = 0;
  dataEnd = 0;
  /** The record ended in the kernel's NUL terminator, left out of the data. */
  kernelNul = false;
  private why: Why = Why.none;
  private whyA = 0;
  private whyB = 0;

  get isFragment(): boolean {
    return this.fragTotal >= 0;
  }

  /** Sets the kind and why (Why.none for extended); returns the kind for a one-line return. */
  fail(kind: Kind, why: Why, a = 0, b = 0): Kind {
    this.kind = kind;
    this.why = why;
    this.whyA = a;
    this.whyB = b;
    return kind;
  }

  /** Why the payload is legacy or malformed ("" for extended). */
  reason(): string {
    const a = this.whyA;
    const b = this.whyB;
    switch (this.why) {
      case Why.empty:
        return "empty payload";
      case Why.noSemicolon:
        return "no ';' ending a header";
      case Why.longHeader:
        return `header of ${a} bytes (limit ${MAX_HEADER_BYTES - 1})`;
      case Why.releaseOnly:
        return "release prefix with no header after it";
      case Why.priority:
        return "priority field is not a number from 0 to 255";
      case Why.sequence:
        return "sequence field is not a number";
      case Why.timestamp:
        return "timestamp field is not a number";
      case Why.fragTwice:
        return "ncfrag given twice";
      case Why.fragForm:
        return "ncfrag is not OFFSET/TOTAL";
      case Why.fragOffset:
        return "ncfrag offset is not a number";
      case Why.fragTotal:
        return "ncfrag total is not a number";
      case Why.emgTwice:
        return "ncemg given twice";
      case Why.emgNumber:
        return "ncemg is not a number";
      case Why.seqRange:
        return "sequence number beyond 2^53";
      case Why.fragCap:
        return `ncfrag total ${a} exceeds the ${b}-byte cap`;
      case Why.fragOffsetBound:
        return `ncfrag offset ${a} not below total ${b}`;
      case Why.fragChunkBound:
        return `ncfrag chunk ends at ${a}, past total ${b}`;
      default:
        return "";
    }
  }

  /** The release and caller of a reassembled record (its bytes hold only the data). */
  private releaseText: string | undefined;
  private callerText: string | undefined;

  /**
   * Makes this view the whole record a reassembly completed: `data` is all of its data, `head`
   * the header fields of its first fragment.
   */
  setWhole(head: RecordHead, data: Uint8Array): void {
    this.kind = Kind.extended;
    this.why = Why.none;
    this.bytes = data;
    this.start = 0;
    this.end = data.length;
    this.dataStart = 0;
    this.dataEnd = data.length;
    this.fragOffset = -1;
    this.fragTotal = -1;
    this.kernelNul = false;
    this.releaseStart = -1;
    this.callerStart = -1;
    this.releaseText = head.release;
    this.callerText = head.caller;
    this.facility = head.facility;
    this.level = head.level;
    this.seq = head.seq;
    this.tsUs = head.tsUs;
    this.flags.contStart = head.flags.contStart;
    this.flags.cont = head.flags.cont;
    this.flags.emg = head.flags.emg;
  }

  /** Forgets the position fields' meaning before a new decode. */
  reset(bytes: Uint8Array, start: number, end: number): void {
    this.bytes = bytes;
    this.start = start;
    this.end = end;
    this.releaseStart = -1;
    this.releaseEnd = -1;
    this.callerStart = -1;
    this.callerEnd = -1;
    this.fragOffset = -1;
    this.fragTotal = -1;
    this.kernelNul = false;
    this.releaseText = undefined;
    this.callerText = undefined;
  }

  /** The release text, or undefined. */
  release(): string | undefined {
    if (this.releaseStart < 0) return this.releaseText;
    return asBuffer(this.bytes).toString("latin1", this.releaseStart, this.releaseEnd);
  }

  /** The caller field's value, or undefined. */
  caller(): string | undefined {
    if (this.callerStart < 0) return this.callerText;
    return asBuffer(this.bytes).toString("latin1", this.callerStart, this.callerEnd);
  }

  /** The object form of what was decoded (allocates: for sinks, tests and `decode`). */
  message(): Decoded {
    const buf = asBuffer(this.bytes);
    if (this.kind === Kind.malformed) return { kind: "malformed", reason: this.reason() };
    if (this.kind === Kind.legacy) {
      return { kind: "legacy", text: buf.subarray(this.start, this.end), reason: this.reason() };
    }
    const data = buf.subarray(this.dataStart, this.dataEnd);
    const out: DecodedExtended = {
      kind: "extended",
      release: this.release(),
      facility: this.facility,
      level: this.level,
      seq: this.seq,
      tsUs: this.tsUs,
      flags: { ...this.flags },
      caller: this.caller(),
      data,
    };
    if (this.isFragment) {
      out.fragment = { offset: this.fragOffset, total: this.fragTotal };
      return out;
    }
    const { text, dict } = parseData(data);
    out.text = text;
    out.dict = dict;
    if (this.kernelNul) out.kernelNul = true;
    return out;
  }
}

/** The first `byte` in bytes[from, end), or -1 (bounded: ring bytes go on past a payload). */
function indexIn(bytes: Uint8Array, byte: number, from: number, end: number): number {
  for (let i = from; i < end; i++) if (bytes[i] === byte) return i;
  return -1;
}

/**
 * Decodes bytes[start, end) into `view`. Never throws, allocates nothing. Returns view.kind.
 *
 * A record of exactly 1000 bytes with a release prefix whose last byte is NUL: the kernel wrote
 * the record with a 1000-byte scnprintf, which ends with its NUL terminator where the final LF
 * would have been. The NUL is not part of the message: it is left out of the data and marked
 * (view.kernelNul) so the receiver can count how often it happened.
 */
export function decodeInto(
  view: DatagramView,
  bytes: Uint8Array,
  start: number,
  end: number,
  maxMessageBytes: number = DEFAULT_MAX_MESSAGE_BYTES,
): Kind {
  view.reset(bytes, start, end);
  if (end <= start) return view.fail(Kind.malformed, Why.empty);
  const headerLimit = Math.min(end, start + MAX_HEADER_BYTES);
  const semi = indexIn(bytes, SEMICOLON, start, headerLimit);
  if (semi < 0) {
    if (headerLimit === end) return view.fail(Kind.legacy, Why.noSemicolon);
    const far = indexIn(bytes, SEMICOLON, headerLimit, end);
    if (far < 0) return view.fail(Kind.legacy, Why.noSemicolon);
    return view.fail(Kind.legacy, Why.longHeader, far - start);
  }

  // Fields are comma separated; a first field with a '.' is the release (ncrx's rule).
  let pos = start;
  let comma = indexIn(bytes, COMMA, start, semi);
  let fieldEnd = comma >= 0 ? comma : semi;
  if (indexIn(bytes, DOT, start, fieldEnd) >= 0) {
    if (fieldEnd === semi) return view.fail(Kind.legacy, Why.releaseOnly);
    view.releaseStart = start;
    view.releaseEnd = fieldEnd;
    pos = fieldEnd + 1;
  }

  const flags = view.flags;
  flags.contStart = false;
  flags.cont = false;
  flags.emg = false;
  view.facility = 0;
  view.level = 0;
  view.seq = 0;
  view.tsUs = 0;
  let fragOffset = -1;
  let fragTotal = -1;
  let sawEmg = false;
  let sawCaller = false;

  for (let index = 0; pos <= semi; index++) {
    comma = indexIn(bytes, COMMA, pos, semi);
    fieldEnd = comma >= 0 ? comma : semi;
    switch (index) {
      case 0:
        if (!parseCNumber(bytes, pos, fieldEnd) || parsedValue > 255) {
          return view.fail(Kind.legacy, Why.priority);
        }
        view.facility = parsedValue >> 3;
        view.level = parsedValue & 7;
        break;
      case 1:
        if (!parseCNumber(bytes, pos, fieldEnd)) return view.fail(Kind.legacy, Why.sequence);
        if (parsedValue === Number.POSITIVE_INFINITY)
          return view.fail(Kind.malformed, Why.seqRange);
        view.seq = parsedValue;
        break;
      case 2:
        if (!parseCNumber(bytes, pos, fieldEnd)) return view.fail(Kind.legacy, Why.timestamp);
        view.tsUs = parsedValue;
        break;
      case 3: {
        const flag = fieldEnd > pos ? bytes[pos] : 0;
        if (flag === 0x63)
          flags.contStart = true; // c
        else if (flag === 0x2b) flags.cont = true; // +
        break;
      }
      default:
        if (startsWith(bytes, pos, fieldEnd, "ncfrag=")) {
          if (fragTotal >= 0) return view.fail(Kind.legacy, Why.fragTwice);
          const slash = indexIn(bytes, 0x2f, pos, fieldEnd);
          if (slash < 0) return view.fail(Kind.legacy, Why.fragForm);
          if (!parseCNumber(bytes, pos + 7, slash)) return view.fail(Kind.legacy, Why.fragOffset);
          fragOffset = parsedValue;
          if (!parseCNumber(bytes, slash + 1, fieldEnd))
            return view.fail(Kind.legacy, Why.fragTotal);
          fragTotal = parsedValue;
        } else if (startsWith(bytes, pos, fieldEnd, "ncemg=")) {
          if (sawEmg) return view.fail(Kind.legacy, Why.emgTwice);
          sawEmg = true;
          if (!parseCNumber(bytes, pos + 6, fieldEnd)) return view.fail(Kind.legacy, Why.emgNumber);
          flags.emg = parsedValue !== 0;
        } else if (startsWith(bytes, pos, fieldEnd, "caller=")) {
          if (!sawCaller) {
            view.callerStart = pos + 7;
            view.callerEnd = fieldEnd;
          }
          sawCaller = true;
        }
      // Any other field is a future extension: ignored, as the dev-kmsg ABI asks.
    }
    pos = fieldEnd + 1;
  }

  view.dataStart = semi + 1;
  view.dataEnd = end;
  if (fragTotal >= 0) {
    const chunk = end - semi - 1;
    if (fragTotal > maxMessageBytes)
      return view.fail(Kind.malformed, Why.fragCap, fragTotal, maxMessageBytes);
    if (fragOffset >= fragTotal)
      return view.fail(Kind.malformed, Why.fragOffsetBound, fragOffset, fragTotal);
    if (fragOffset + chunk > fragTotal)
      return view.fail(Kind.malformed, Why.fragChunkBound, fragOffset + chunk, fragTotal);
    view.fragOffset = fragOffset;
    view.fragTotal = fragTotal;
  } else if (
    view.releaseStart >= 0 &&
    end - start === KERNEL_RECORD_BYTES &&
    bytes[end - 1] === 0 &&
    end - 1 > semi
  ) {
    view.dataEnd = end - 1;
    view.kernelNul = true;
  }
  return view.fail(Kind.extended, Why.none);
}

const scratchView = new DatagramView();

/** Decodes one datagram payload into its object form. Never throws. */
export function decodePayload(payload: Uint8Array, options: DecodeOptions = {}): Decoded {
  decodeInto(scratchView, payload, 0, payload.length, options.maxMessageBytes);
  const decoded = scratchView.message();
  scratchView.bytes = EMPTY;
  return decoded;
}

const EMPTY = new Uint8Array(0);

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * Undoes kernel escaping: `\xNN` -> byte. A backslash not followed by `x` and two hex digits is
 * kept as it is (userdata is not escaped, so a stray backslash can appear there).
 */
export function unescapeKernel(bytes: Buffer, start = 0, end = bytes.length): Buffer {
  const first = bytes.indexOf(BACKSLASH, start);
  if (first < 0 || first >= end) return bytes.subarray(start, end);
  const out = Buffer.allocUnsafe(end - start);
  let o = bytes.copy(out, 0, start, first);
  for (let i = first; i < end; i++) {
    const b = bytes[i];
    if (b === BACKSLASH && i + 3 < end && bytes[i + 1] === 0x78) {
      const hi = hexValue(bytes[i + 2]);
      const lo = hexValue(bytes[i + 3]);
      if (hi >= 0 && lo >= 0) {
        out[o++] = (hi << 4) | lo;
        i += 3;
        continue;
      }
    }
    out[o++] = b;
  }
  return out.subarray(0, o);
}

/**
 * Splits the data of a whole extended record: the text up to the first LF, then one
 * ` KEY=VALUE` line per LF (split on the first `=`; a line without `=` has an empty value).
 * A missing final LF is tolerated (old kernels' 1000-byte scnprintf could drop it).
 */
export function parseData(data: Uint8Array): { text: Buffer; dict: [string, string][] } {
  const buf = asBuffer(data);
  const lf = buf.indexOf(LF);
  const textEnd = lf < 0 ? buf.length : lf;
  const text = unescapeKernel(buf, 0, textEnd);
  const dict: [string, string][] = [];
  let pos = textEnd + 1;
  while (pos < buf.length) {
    let end = buf.indexOf(LF, pos);
    if (end < 0) end = buf.length;
    let start = pos;
    if (buf[start] === 0x20) start++;
    if (end > start) {
      const eq = buf.indexOf(0x3d, start);
      if (eq >= 0 && eq < end) {
        dict.push([
          unescapeKernel(buf, start, eq).toString("utf8"),
          unescapeKernel(buf, eq + 1, end).toString("utf8"),
        ]);
      } else {
        dict.push([unescapeKernel(buf, start, end).toString("utf8"), ""]);
      }
    }
    pos = end + 1;
  }
  return { text, dict };
}
