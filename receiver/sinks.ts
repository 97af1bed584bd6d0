/**
 * Output sinks for the received messages, run inside the worker threads (their cost is part of
 * what users tune for, as with netconsd's output modules):
 * - none: nothing;
 * - print: one line per message on stdout, like netconsd's printer module;
 * - jsonl:FILE: one JSON object per message (receiver/message-json.ts shape);
 * - dir:PATH: one log file per host, `PATH/<address>.log`, like netconsd's logger module.
 * Lines are buffered and written with one write(2) per flush. print and jsonl write to a file
 * descriptor opened by the main thread with O_APPEND, so every worker's flush lands whole.
 *
 * One message is one line whatever its bytes: print and dir lines show control characters
 * (C0, DEL, C1: LF, CR, ESC of ANSI sequences, NUL...) and backslashes as `\xNN`, so a message
 * can neither forge a second line nor drive the terminal; jsonl escapes them as JSON `\uXXXX`.
 * A sink whose write fails (EPIPE when the reader of stdout went away, ENOSPC, EMFILE...) keeps
 * the reason in `error` and writes nothing more; it never throws into the worker.
 */
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { DecodedExtended, DecodedLegacy } from "./decode.ts";
import { jsonLine, messageJson } from "./message-json.ts";

export type OutputSpec =
  | { kind: "none" }
  | { kind: "print" }
  | { kind: "jsonl"; file: string }
  | { kind: "dir"; path: string };

/** Parses `none`, `print`, `jsonl:FILE` or `dir:PATH`; throws an Error naming the expected form. */
export function parseOutputSpec(value: string): OutputSpec {
  if (value === "none") return { kind: "none" };
  if (value === "print") return { kind: "print" };
  if (value.startsWith("jsonl:") && value.length > 6)
    return { kind: "jsonl", file: value.slice(6) };
  if (value.startsWith("dir:") && value.length > 4) return { kind: "dir", path: value.slice(4) };
  throw new Error("expected none, print, jsonl:FILE or dir:PATH");
}

export function formatOutputSpec(spec: OutputSpec): string {
  if (spec.kind === "jsonl") return `jsonl:${spec.file}`;
  if (spec.kind === "dir") return `dir:${spec.path}`;
  return spec.kind;
}

/**
 * Prepares the output in the main thread before the workers start: truncates and opens the jsonl
 * file in append mode (the fd is shared by all workers), creates the directory. Returns the fd
 * the workers write to (-1 for none and dir) and a close function.
 */
export function openOutput(spec: OutputSpec): { fd: number; close: () => void } {
  if (spec.kind === "print") return { fd: 1, close: () => {} };
  if (spec.kind === "jsonl") {
    closeSync(openSync(spec.file, "w"));
    const fd = openSync(spec.file, "a");
    return { fd, close: () => closeSync(fd) };
  }
  if (spec.kind === "dir") mkdirSync(spec.path, { recursive: true });
  return { fd: -1, close: () => {} };
}

export interface Sink {
  write(source: string, message: DecodedExtended | DecodedLegacy, fragments: number): void;
  flush(): void;
  close(): void;
  /** Why the sink stopped writing (its first failed write), or null. */
  readonly error: string | null;
  /** True when the sink throws messages away unseen (none): no message needs to be built. */
  readonly discards?: boolean;
}

/** One line for a failed write: "EPIPE: the reader of stdout went away" and the like. */
export function sinkErrorText(error: unknown, target: string): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EPIPE") return `EPIPE: the reader of ${target} went away`;
  return `${code ?? "error"} writing ${target}: ${(error as Error).message}`;
}

/** Characters a log line must not carry raw: C0 controls, backslash, DEL, C1 controls. */
const UNSAFE_TEXT = /[\x00-\x1f\\\x7f-\x9f]/g;
const hex2 = (code: number) => `\\x${code.toString(16).padStart(2, "0")}`;

/** Message text for one log line: control characters and backslashes as `\xNN`. */
export function escapeLine(text: string): string {
  return text.replace(UNSAFE_TEXT, (ch) => hex2(ch.charCodeAt(0)));
}

/** Bytes buffered before a flush is forced (besides the workers' periodic flush). */
const FLUSH_BYTES = 64 * 1024;
/** Host log files kept open at once in dir mode. */
const OPEN_FILES = 256;

/** The text of a message for print and dir lines: netconsd's printer layout. */
export function printLine(source: string | null, message: DecodedExtended | DecodedLegacy): string {
  const prefix = source === null ? "" : `${source} `;
  const text = escapeLine((message.text ?? Buffer.alloc(0)).toString("utf8"));
  if (message.kind === "legacy") return `${prefix}${text}\n`;
  const f = message.flags;
  const flags = `${f.contStart ? "c" : ""}${f.cont ? "+" : ""}${f.emg ? "E" : ""}`;
  return `${prefix}S${message.seq} T${message.tsUs} F${message.facility}/L${message.level}${flags ? ` ${flags}` : ""} ${text}\n`;
}

/** write(2) all of data to fd; a thrown error becomes the returned text (target names it). */
function writeAll(fd: number, data: Buffer, target: string): string | null {
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off);
    return null;
  } catch (error) {
    return sinkErrorText(error, target);
  }
}

class FdSink implements Sink {
  error: string | null = null;
  private chunks: string[] = [];
  private bytes = 0;
  private readonly fd: number;
  private readonly json: boolean;
  private readonly target: string;

  constructor(fd: number, json: boolean, target: string) {
    this.fd = fd;
    this.json = json;
    this.target = target;
  }

  write(source: string, message: DecodedExtended | DecodedLegacy, fragments: number): void {
    if (this.error !== null) return;
    const line = this.json
      ? jsonLine(messageJson(message, source, fragments))
      : printLine(source, message);
    this.chunks.push(line);
    this.bytes += line.length;
    if (this.bytes >= FLUSH_BYTES) this.flush();
  }

  flush(): void {
    if (this.chunks.length === 0) return;
    const data = Buffer.from(this.chunks.join(""), "utf8");
    this.chunks = [];
    this.bytes = 0;
    if (this.error === null) this.error = writeAll(this.fd, data, this.target);
  }

  close(): void {
    this.flush();
  }
}

class DirSink implements Sink {
  error: string | null = null;
  private readonly path: string;
  private readonly pending = new Map<string, string[]>();
  /** Open host files, oldest first (a Map keeps insertion order). */
  private readonly fds = new Map<string, number>();
  private bytes = 0;

  constructor(path: string) {
    this.path = path;
  }

  write(source: string, message: DecodedExtended | DecodedLegacy): void {
    if (this.error !== null) return;
    const line = printLine(null, message);
    let lines = this.pending.get(source);
    if (!lines) {
      lines = [];
      this.pending.set(source, lines);
    }
    lines.push(line);
    this.bytes += line.length;
    if (this.bytes >= FLUSH_BYTES) this.flush();
  }

  flush(): void {
    for (const [source, lines] of this.pending) {
      if (this.error !== null) break;
      const file = join(this.path, `${source}.log`);
      let fd = this.fds.get(source);
      if (fd === undefined) {
        if (this.fds.size >= OPEN_FILES) {
          const [oldest, oldFd] = this.fds.entries().next().value as [string, number];
          closeSync(oldFd);
          this.fds.delete(oldest);
        }
        try {
          fd = openSync(file, "a");
        } catch (error) {
          this.error = sinkErrorText(error, file);
          break;
        }
        this.fds.set(source, fd);
      }
      this.error = writeAll(fd, Buffer.from(lines.join(""), "utf8"), file);
    }
    this.pending.clear();
    this.bytes = 0;
  }

  close(): void {
    this.flush();
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}

const NONE_SINK: Sink = { write() {}, flush() {}, close() {}, error: null, discards: true };

/** The sink a worker uses; `fd` comes from openOutput() in the main thread. */
export function createSink(spec: OutputSpec, fd: number): Sink {
  if (spec.kind === "print") return new FdSink(fd, false, "stdout");
  if (spec.kind === "jsonl") return new FdSink(fd, true, spec.file);
  if (spec.kind === "dir") return new DirSink(spec.path);
  return NONE_SINK;
}
