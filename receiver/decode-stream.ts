/**
 * Decoding a stream of payloads for people debugging real traffic (`netcons-bench decode`):
 * one payload per line, C-style escaped (`\n`, `\t`, `\\`, `\xNN`, octal `\NNN`, ...), fragments
 * of the same stream reassembled. Each decoded message becomes one JSON object.
 *
 * Memory stays constant whatever the input: splitLines() holds at most MAX_LINE_BYTES of a line
 * (a UDP payload escaped byte by byte is at most 4 x 65,535 bytes); a longer line is skipped
 * as it streams by and reported as malformed, never buffered whole.
 */
import { type DecodeOptions, decodePayload } from "./decode.ts";
import { type MessageJson, messageJson } from "./message-json.ts";
import { Reassembler } from "./reassembly.ts";

export type DecodeLineResult =
  | MessageJson
  | { kind: "malformed"; line: number; reason: string }
  | { kind: "incomplete"; incomplete: number };

const SIMPLE_ESCAPES: Record<string, number> = {
  n: 0x0a,
  t: 0x09,
  r: 0x0d,
  "\\": 0x5c,
  '"': 0x22,
  "'": 0x27,
  a: 0x07,
  b: 0x08,
  f: 0x0c,
  v: 0x0b,
  "?": 0x3f,
  e: 0x1b,
};

/** The longest input line decoded: a 65,535-byte payload with every byte escaped as `\xNN`. */
export const MAX_LINE_BYTES = 4 * 65_535;

/**
 * Splits a byte stream into lines (LF, a CR before it dropped). Yields each line's bytes, or for a
 * line longer than `maxBytes` its length in bytes (the line itself is not kept).
 */
export async function* splitLines(
  chunks: AsyncIterable<Buffer | string>,
  maxBytes = MAX_LINE_BYTES,
): AsyncGenerator<Buffer | number> {
  let parts: Buffer[] = [];
  let held = 0;
  /** Bytes of the current line once it is over the limit (parts then empty), else -1. */
  let skipped = -1;
  const keep = (piece: Buffer) => {
    if (skipped >= 0) {
      skipped += piece.length;
    } else if (held + piece.length > maxBytes) {
      skipped = held + piece.length;
      parts = [];
      held = 0;
    } else if (piece.length > 0) {
      parts.push(Buffer.from(piece)); // a copy: the stream may reuse its chunk
      held += piece.length;
    }
  };
  const endLine = (): Buffer | number => {
    if (skipped >= 0) {
      const length = skipped;
      skipped = -1;
      return length;
    }
    let line = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    parts = [];
    held = 0;
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, -1);
    return line;
  };
  for await (const chunk of chunks) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    let from = 0;
    for (let lf = bytes.indexOf(0x0a); lf >= 0; lf = bytes.indexOf(0x0a, from)) {
      keep(bytes.subarray(from, lf));
      yield endLine();
      from = lf + 1;
    }
    keep(bytes.subarray(from));
  }
  if (skipped >= 0 || held > 0) yield endLine();
}

/** Undoes C string escapes; a string line is taken as UTF-8. Throws on a bad escape. */
export function unescapeC(line: string | Buffer): Buffer {
  const raw = typeof line === "string" ? Buffer.from(line, "utf8") : line;
  const out = Buffer.allocUnsafe(raw.length);
  let o = 0;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i];
    if (b !== 0x5c) {
      out[o++] = b;
      continue;
    }
    const next = String.fromCharCode(raw[i + 1] ?? 0);
    if (i + 1 >= raw.length) throw new Error("a lone backslash ends the line");
    if (next === "x") {
      const hex = /^[0-9a-fA-F]{1,2}/.exec(raw.toString("latin1", i + 2, i + 4));
      if (!hex) throw new Error(`\\x without hex digits at column ${i + 1}`);
      out[o++] = Number.parseInt(hex[0], 16);
      i += 1 + hex[0].length;
    } else if (next >= "0" && next <= "7") {
      const oct = /^[0-7]{1,3}/.exec(raw.toString("latin1", i + 1, i + 4))![0];
      out[o++] = Number.parseInt(oct, 8) & 0xff;
      i += oct.length;
    } else if (next in SIMPLE_ESCAPES) {
      out[o++] = SIMPLE_ESCAPES[next];
      i += 1;
    } else {
      throw new Error(`unknown escape \\${next} at column ${i + 1}`);
    }
  }
  return out.subarray(0, o);
}

export interface DecodeStreamOptions extends DecodeOptions {
  /** Source name used as the reassembly key and in the output. */
  source?: string;
}

/**
 * Decodes payload lines (strings, bytes, or the length of a line too long to keep, as
 * splitLines() gives them); yields one result per message, malformed line or (at the end)
 * incomplete set.
 */
export async function* decodeLines(
  lines: AsyncIterable<string | Buffer | number> | Iterable<string | Buffer | number>,
  options: DecodeStreamOptions = {},
): AsyncGenerator<DecodeLineResult> {
  const source = options.source ?? "stream";
  const reassembler = new Reassembler({
    maxMessageBytes: options.maxMessageBytes,
    timeoutMs: Number.POSITIVE_INFINITY,
  });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber++;
    if (typeof line === "number") {
      yield {
        kind: "malformed",
        line: lineNumber,
        reason: `line of ${line} bytes, longer than ${MAX_LINE_BYTES}`,
      };
      continue;
    }
    if (line.length === 0) continue;
    let payload: Buffer;
    try {
      payload = unescapeC(line);
    } catch (error) {
      yield { kind: "malformed", line: lineNumber, reason: (error as Error).message };
      continue;
    }
    const decoded = decodePayload(payload, options);
    if (decoded.kind === "malformed") {
      yield { kind: "malformed", line: lineNumber, reason: decoded.reason };
    } else if (decoded.kind === "extended" && decoded.fragment) {
      const whole = reassembler.add(source, decoded, 0);
      if (whole) yield messageJson(whole, source, reassembler.completedFragments);
    } else {
      yield messageJson(decoded, source);
    }
  }
  const incomplete = reassembler.flush();
  if (incomplete > 0) yield { kind: "incomplete", incomplete };
}
