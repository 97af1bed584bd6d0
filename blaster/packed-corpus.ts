/**
 * The corpus packed for writing: every record of blaster/corpus.ts with its wire pieces
 * (escaped text, console line, dictionary, task) encoded once at load, the script table
 * (where each script starts and ends) and the cumulative weights for picking a host's next
 * script. Built once per thread; read-only afterwards.
 */
import { escapeKernel, needsEscape } from "./codec.ts";
import { type CorpusRecord, RELEASES, SCRIPTS } from "./corpus.ts";

export const enc = (s: string) => Buffer.from(s, "latin1");

/** A corpus record with its wire pieces encoded once. */
export interface Packed {
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

export const RECORDS: Packed[] = [];
export const SCRIPT_START: number[] = [];
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
export const CUMULATIVE: number[] = [];
{
  let total = 0;
  for (const s of SCRIPTS) {
    total += s.weight;
    CUMULATIVE.push(total);
  }
  for (let i = 0; i < CUMULATIVE.length; i++) CUMULATIVE[i] /= total;
}

export const RELEASE_BYTES = RELEASES.map(enc);

/** Script index of a host that has not started a script yet (its script "ends" at record 0). */
export const NO_SCRIPT = SCRIPTS.length;
/** SCRIPT_END[s]: the record after script s (NO_SCRIPT: 0, so the first write picks a script). */
export const SCRIPT_END = [...SCRIPT_START.map((start, s) => start + SCRIPT_LENGTH[s]), 0];
// The per-host cursor and script index are Uint16 and Uint8.
if (RECORDS.length > 0xffff || NO_SCRIPT > 0xff) throw new Error("the corpus outgrew HostTable");

/**
 * How many raw text bytes fit `budget` bytes on the wire (escaped: a byte that needs an escape
 * takes 4), and how many wire bytes they take. A cut never splits an escape.
 */
export function cutRaw(
  raw: Buffer,
  budget: number,
  escaped: boolean,
): { bytes: number; wire: number } {
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
