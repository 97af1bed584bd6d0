/**
 * The netconsole decoder: one datagram payload in, a typed result out, classified the way
 * netconsd's ncrx does it (see ../shared/wire-format.md and ../shared/netconsd-notes.md):
 * every payload is tried as extended first; if its header does not parse it is legacy.
 *
 * Where ncrx is tolerant we are too: numbers in C `strtoull(.., 0)` form (`0x11` is 17),
 * missing trailing fields (`5;x` is prival 5, seq 0, ts 0), unknown header fields ignored, no
 * trailing LF. Where it guards memory we are stricter: a fragment whose bounds do not fit, or whose
 * total exceeds the configured cap, is `malformed` instead of being passed on as legacy text.
 *
 * Pure and allocation-light: the result's byte fields are views into the payload.
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

export interface DecodedExtended {
  kind: "extended";
  release?: string;
  facility: number;
  level: number;
  seq: number;
  tsUs: number;
  flags: ExtendedFlags;
  caller?: string;
  fragment?: { offset: number; total: number };
  /** The bytes after `;` as on the wire (for a fragment: this chunk only). */
  data: Buffer;
  /** Unescaped text (absent for a fragment). */
  text?: Buffer;
  /** Unescaped lines after the text, split on the first `=` (absent for a fragment). */
  dict?: [string, string][];
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

function legacy(buf: Buffer, reason: string): DecodedLegacy {
  return { kind: "legacy", text: buf, reason };
}

/** Decodes one datagram payload. Never throws. */
export function decodePayload(payload: Uint8Array, options: DecodeOptions = {}): Decoded {
  const buf = asBuffer(payload);
  if (buf.length === 0) return { kind: "malformed", reason: "empty payload" };
  const semi = buf.indexOf(SEMICOLON);
  if (semi < 0) return legacy(buf, "no ';' ending a header");
  if (semi >= MAX_HEADER_BYTES)
    return legacy(buf, `header of ${semi} bytes (limit ${MAX_HEADER_BYTES - 1})`);

  // Fields are comma separated; a first field with a '.' is the release (ncrx's rule).
  let pos = 0;
  let release: string | undefined;
  let comma = buf.indexOf(COMMA, 0);
  let fieldEnd = comma >= 0 && comma < semi ? comma : semi;
  if (buf.indexOf(DOT, 0) >= 0 && buf.indexOf(DOT, 0) < fieldEnd) {
    release = buf.toString("latin1", 0, fieldEnd);
    if (fieldEnd === semi) return legacy(buf, "release prefix with no header after it");
    pos = fieldEnd + 1;
  }

  let facility = 0;
  let level = 0;
  let seq = 0;
  let tsUs = 0;
  let contStart = false;
  let cont = false;
  let emg = false;
  let caller: string | undefined;
  let fragOffset = -1;
  let fragTotal = -1;
  let sawEmg = false;
  let sawCaller = false;

  for (let index = 0; pos <= semi; index++) {
    comma = buf.indexOf(COMMA, pos);
    fieldEnd = comma >= 0 && comma < semi ? comma : semi;
    switch (index) {
      case 0:
        if (!parseCNumber(buf, pos, fieldEnd) || parsedValue > 255) {
          return legacy(buf, "priority field is not a number from 0 to 255");
        }
        facility = parsedValue >> 3;
        level = parsedValue & 7;
        break;
      case 1:
        if (!parseCNumber(buf, pos, fieldEnd)) return legacy(buf, "sequence field is not a number");
        if (parsedValue === Number.POSITIVE_INFINITY)
          return { kind: "malformed", reason: "sequence number beyond 2^53" };
        seq = parsedValue;
        break;
      case 2:
        if (!parseCNumber(buf, pos, fieldEnd))
          return legacy(buf, "timestamp field is not a number");
        tsUs = parsedValue;
        break;
      case 3: {
        const flag = fieldEnd > pos ? buf[pos] : 0;
        if (flag === 0x63)
          contStart = true; // c
        else if (flag === 0x2b) cont = true; // +
        break;
      }
      default:
        if (startsWith(buf, pos, fieldEnd, "ncfrag=")) {
          if (fragTotal >= 0) return legacy(buf, "ncfrag given twice");
          const slash = buf.indexOf(0x2f, pos);
          if (slash < 0 || slash >= fieldEnd) return legacy(buf, "ncfrag is not OFFSET/TOTAL");
          if (!parseCNumber(buf, pos + 7, slash))
            return legacy(buf, "ncfrag offset is not a number");
          fragOffset = parsedValue;
          if (!parseCNumber(buf, slash + 1, fieldEnd))
            return legacy(buf, "ncfrag total is not a number");
          fragTotal = parsedValue;
        } else if (startsWith(buf, pos, fieldEnd, "ncemg=")) {
          if (sawEmg) return legacy(buf, "ncemg given twice");
          sawEmg = true;
          if (!parseCNumber(buf, pos + 6, fieldEnd)) return legacy(buf, "ncemg is not a number");
          emg = parsedValue !== 0;
        } else if (startsWith(buf, pos, fieldEnd, "caller=")) {
          if (!sawCaller) caller = buf.toString("latin1", pos + 7, fieldEnd);
          sawCaller = true;
        }
      // Any other field is a future extension: ignored, as the dev-kmsg ABI asks.
    }
    pos = fieldEnd + 1;
  }

  const data = buf.subarray(semi + 1);
  const flags = { contStart, cont, emg };
  if (fragTotal >= 0) {
    const cap = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (fragTotal > cap)
      return { kind: "malformed", reason: `ncfrag total ${fragTotal} exceeds the ${cap}-byte cap` };
    if (fragOffset >= fragTotal)
      return {
        kind: "malformed",
        reason: `ncfrag offset ${fragOffset} not below total ${fragTotal}`,
      };
    if (fragOffset + data.length > fragTotal) {
      return {
        kind: "malformed",
        reason: `ncfrag chunk ends at ${fragOffset + data.length}, past total ${fragTotal}`,
      };
    }
    const fragment = { offset: fragOffset, total: fragTotal };
    return { kind: "extended", release, facility, level, seq, tsUs, flags, caller, fragment, data };
  }
  const { text, dict } = parseData(data);
  return { kind: "extended", release, facility, level, seq, tsUs, flags, caller, data, text, dict };
}

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
