/**
 * The netconsole encoder: kernel log records in, datagram payloads out, byte for byte as a
 * Linux kernel >= 6.9 writes them (the format: blaster/README.md, "The netconsole wire format").
 * Pure functions, no I/O.
 *
 * Extended:  [release ","] prival "," seq "," tsUs "," flag [",caller=" id] [",ncfrag=" off "/" total] ";" data
 * data:      escaped text LF, then " KEY=VALUE" LF per dictionary entry (escaped), per userdata
 *            item (not escaped, empty values skipped) and per sysdata field (cpu, taskname,
 *            release, msgid, in that order, not escaped).
 * Legacy:    ["[%5lu.%06lu] "] text LF, cut into slices of at most chunkSize bytes.
 */

/** The kernel's MAX_PRINT_CHUNK: no netconsole datagram carries more payload than this. */
export const MAX_PRINT_CHUNK = 1000;

export interface SysData {
  cpu?: number;
  taskname?: string;
  release?: string;
  msgid?: number;
}

export interface KernelRecord {
  /** 0..31 (`prival >> 3`); 0 = kern, 1 = user. */
  facility: number;
  /** 0..7 (`prival & 7`). */
  level: number;
  /** The printk record number (a safe integer). */
  seq: number;
  /** Microseconds since boot. */
  tsUs: number;
  /** LOG_CONT: the record is a fragment of a line (flag `c` instead of `-`). */
  cont?: boolean;
  /** CONFIG_PRINTK_CALLER id: `T<pid>` or `C<cpu>`. */
  caller?: string;
  /** Raw message bytes; a string is UTF-8 encoded. Escaped on the wire. */
  text: Uint8Array | string;
  /** printk dictionary (SUBSYSTEM, DEVICE, ...); escaped. */
  dict?: ReadonlyArray<readonly [string, string]>;
  /** configfs userdata items; not escaped, empty values skipped. */
  userdata?: ReadonlyArray<readonly [string, string]>;
  /** netconsole sysdata; not escaped. */
  sysdata?: SysData;
}

export interface EncodeOptions {
  /** Kernel release for the `r` flag (`netconsole=+r...`): prefixes every datagram. */
  release?: string;
  /** Largest payload in bytes; the kernel's is 1000. Smaller values let tests fragment small records. */
  chunkSize?: number;
}

export interface LegacyOptions {
  /** When set, the line starts with the `printk.time` prefix `[%5lu.%06lu] `. */
  tsUs?: number;
  chunkSize?: number;
}

const HEX = "0123456789abcdef";

/** True when `byte` must be written as `\xNN` (kernel: `c < ' ' || c >= 127 || c == '\\'`). */
export function needsEscape(byte: number): boolean {
  return byte < 0x20 || byte >= 0x7f || byte === 0x5c;
}

/** Kernel escaping of text, dictionary keys and values: every byte < 0x20, >= 0x7f or `\` -> `\xNN`. */
export function escapeKernel(bytes: Uint8Array): Buffer {
  let extra = 0;
  for (let i = 0; i < bytes.length; i++) if (needsEscape(bytes[i])) extra += 3;
  if (extra === 0) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const out = Buffer.allocUnsafe(bytes.length + extra);
  let o = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (needsEscape(b)) {
      out[o++] = 0x5c; // backslash
      out[o++] = 0x78; // x
      out[o++] = HEX.charCodeAt(b >> 4);
      out[o++] = HEX.charCodeAt(b & 15);
    } else {
      out[o++] = b;
    }
  }
  return out;
}

/** Printable ASCII except backslash: such a string is its own kernel escape. */
const SAFE_STRING = /^[\x20-\x5b\x5d-\x7e]*$/;

/** The escaped form of a string as a latin1 string (bytes 0..255 as code units). */
function escapeString(value: string): string {
  if (SAFE_STRING.test(value)) return value;
  return escapeKernel(Buffer.from(value, "utf8")).toString("latin1");
}

function escapeBytes(value: Uint8Array | string): string {
  if (typeof value === "string") return escapeString(value);
  return escapeKernel(value).toString("latin1");
}

/** The record header up to (not including) `;` and any ncfrag field: `prival,seq,ts,flag[,caller=..]`. */
export function extendedHeader(record: KernelRecord): string {
  const prival = ((record.facility & 31) << 3) | (record.level & 7);
  const flag = record.cont ? "c" : "-";
  const caller = record.caller ? `,caller=${record.caller}` : "";
  return `${prival},${record.seq},${record.tsUs},${flag}${caller}`;
}

/** Everything after the `;`: text, LF, dictionary, userdata and sysdata lines (latin1 string). */
export function extendedData(record: KernelRecord): string {
  let data = escapeBytes(record.text) + "\n";
  if (record.dict) {
    for (const [key, value] of record.dict) {
      // msg_add_dict_text() skips empty values, like userdata.
      if (value.length > 0) data += ` ${escapeString(key)}=${escapeString(value)}\n`;
    }
  }
  if (record.userdata) {
    for (const [key, value] of record.userdata) {
      if (value.length > 0) data += ` ${utf8AsLatin1(key)}=${utf8AsLatin1(value)}\n`;
    }
  }
  const sys = record.sysdata;
  if (sys) {
    if (sys.cpu !== undefined) data += ` cpu=${sys.cpu}\n`;
    if (sys.taskname !== undefined) data += ` taskname=${utf8AsLatin1(sys.taskname)}\n`;
    if (sys.release !== undefined) data += ` release=${utf8AsLatin1(sys.release)}\n`;
    if (sys.msgid !== undefined) data += ` msgid=${sys.msgid >>> 0}\n`;
  }
  return data;
}

/** Unescaped user strings go on the wire as their UTF-8 bytes; latin1 code units carry them. */
function utf8AsLatin1(value: string): string {
  return SAFE_STRING.test(value) ? value : Buffer.from(value, "utf8").toString("latin1");
}

/**
 * Encodes one record into one payload, or into `ncfrag` fragments when it does not fit in
 * `chunkSize` bytes (kernel >= 6.9 algorithm: the header, release included, is repeated in every
 * fragment; offsets and total count data bytes only; cuts are byte-exact).
 */
export function encodeExtended(record: KernelRecord, options: EncodeOptions = {}): Buffer[] {
  const chunkSize = options.chunkSize ?? MAX_PRINT_CHUNK;
  const release = options.release ? `${options.release},` : "";
  const header = release + extendedHeader(record);
  const data = extendedData(record);
  if (header.length + 1 + data.length <= chunkSize) {
    return [Buffer.from(`${header};${data}`, "latin1")];
  }
  const total = data.length;
  const out: Buffer[] = [];
  let offset = 0;
  while (offset < total) {
    const prefix = `${header},ncfrag=${offset}/${total};`;
    const room = chunkSize - prefix.length;
    if (room <= 0) {
      throw new RangeError(
        `chunk size ${chunkSize} leaves no room for data after a ${prefix.length}-byte header`,
      );
    }
    const chunk = data.slice(offset, offset + room);
    out.push(Buffer.from(prefix + chunk, "latin1"));
    offset += chunk.length;
  }
  return out;
}

/** `[%5lu.%06lu] ` as printk.time writes it. */
export function legacyTimePrefix(tsUs: number): string {
  const secs = Math.floor(tsUs / 1_000_000);
  const usecs = Math.floor(tsUs % 1_000_000);
  return `[${String(secs).padStart(5, " ")}.${String(usecs).padStart(6, "0")}] `;
}

/**
 * Encodes one console line in the legacy format: optional time prefix, the raw bytes (no
 * escaping, no header), LF, cut into slices of at most chunkSize bytes anywhere in the line.
 */
export function encodeLegacy(line: Uint8Array | string, options: LegacyOptions = {}): Buffer[] {
  const chunkSize = options.chunkSize ?? MAX_PRINT_CHUNK;
  if (chunkSize < 1) throw new RangeError("chunk size must be at least 1");
  const prefix = options.tsUs === undefined ? "" : legacyTimePrefix(options.tsUs);
  const body = typeof line === "string" ? Buffer.from(line, "utf8") : line;
  const whole = Buffer.allocUnsafe(prefix.length + body.length + 1);
  whole.write(prefix, 0, "latin1");
  whole.set(body, prefix.length);
  whole[whole.length - 1] = 0x0a;
  if (whole.length <= chunkSize) return [whole];
  const out: Buffer[] = [];
  for (let at = 0; at < whole.length; at += chunkSize) out.push(whole.subarray(at, at + chunkSize));
  return out;
}
