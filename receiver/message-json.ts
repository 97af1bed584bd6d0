/**
 * The JSON form of one received message, shared by the `decode` command and the receiver's
 * jsonl sink so both print the same shape:
 * { source, kind, seq, facility, level, tsUs, flags, caller, release, text, dict, textBase64? }
 * `text` is the UTF-8 reading of the message bytes; when the bytes are not valid UTF-8 the exact
 * bytes are also given as `textBase64`. messageJsonLine() is the one-line text of it: besides
 * what JSON escapes, DEL, C1 controls and U+2028/2029 are written as `\uXXXX` too, so the line
 * carries nothing a terminal or a line reader acts on.
 */
import type { DecodedExtended, DecodedLegacy } from "./decode.ts";

export interface MessageJson {
  source?: string;
  kind: "extended" | "legacy";
  seq?: number;
  facility?: number;
  level?: number;
  tsUs?: number;
  flags?: { contStart: boolean; cont: boolean; emg: boolean };
  caller?: string;
  release?: string;
  text: string;
  textBase64?: string;
  dict?: Record<string, string>;
  /** Number of datagrams the message arrived in, when more than one. */
  fragments?: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function textFields(bytes: Buffer): { text: string; textBase64?: string } {
  try {
    return { text: utf8.decode(bytes) };
  } catch {
    return { text: bytes.toString("utf8"), textBase64: bytes.toString("base64") };
  }
}

/** Dictionary lines as an object; a repeated key (a user key may repeat a kernel key) keeps the last. */
function dictObject(dict: readonly [string, string][] | undefined): Record<string, string> {
  // No prototype: a key such as `__proto__` is kept as a key like any other.
  const out: Record<string, string> = Object.create(null);
  for (const [key, value] of dict ?? []) out[key] = value;
  return out;
}

export function messageJson(
  message: DecodedExtended | DecodedLegacy,
  source?: string,
  fragments?: number,
): MessageJson {
  if (message.kind === "legacy") return { source, kind: "legacy", ...textFields(message.text) };
  return {
    source,
    kind: "extended",
    seq: message.seq,
    facility: message.facility,
    level: message.level,
    tsUs: message.tsUs,
    flags: message.flags,
    caller: message.caller,
    release: message.release,
    ...textFields(message.text ?? Buffer.alloc(0)),
    dict: dictObject(message.dict),
    ...(fragments && fragments > 1 ? { fragments } : {}),
  };
}

/** In JSON text, what JSON.stringify leaves raw but a terminal or line reader may act on. */
const UNSAFE_JSON = /[\x7f-\x9f\u2028\u2029]/g;

/** A JSON text with DEL, C1 controls and U+2028/2029 as `\uXXXX` (still the same JSON value). */
export function escapeJsonLine(json: string): string {
  return json.replace(UNSAFE_JSON, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** One line of JSON (with its LF) for any value: a message, a malformed-line note. */
export function jsonLine(value: unknown): string {
  return `${escapeJsonLine(JSON.stringify(value))}\n`;
}
