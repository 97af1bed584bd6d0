/**
 * Output sinks for the received messages, run inside the worker threads (their cost is part of
 * what users tune for, as with netconsd's output modules):
 * - none: nothing;
 * - print: one line per message on stdout, like netconsd's printer module;
 * - jsonl:FILE: one JSON object per message (receiver/message-json.ts shape);
 * - dir:PATH: one log file per host, `PATH/<address>.log`, like netconsd's logger module.
 * Lines are buffered and written with one write(2) per flush. print and jsonl write to a file
 * descriptor opened by the main thread with O_APPEND, so every worker's flush lands whole.
 */
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { DecodedExtended, DecodedLegacy } from "./decode.ts";
import { messageJson } from "./message-json.ts";

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
}

/** Bytes buffered before a flush is forced (besides the workers' periodic flush). */
const FLUSH_BYTES = 64 * 1024;
/** Host log files kept open at once in dir mode. */
const OPEN_FILES = 256;

/** The text of a message for print and dir lines: netconsd's printer layout. */
export function printLine(source: string | null, message: DecodedExtended | DecodedLegacy): string {
  const prefix = source === null ? "" : `${source} `;
  const text = (message.text ?? Buffer.alloc(0)).toString("utf8");
  if (message.kind === "legacy") return `${prefix}${text}\n`;
  const f = message.flags;
  const flags = `${f.contStart ? "c" : ""}${f.cont ? "+" : ""}${f.emg ? "E" : ""}`;
  return `${prefix}S${message.seq} T${message.tsUs} F${message.facility}/L${message.level}${flags ? ` ${flags}` : ""} ${text}\n`;
}

class FdSink implements Sink {
  private chunks: string[] = [];
  private bytes = 0;
  private readonly fd: number;
  private readonly json: boolean;

  constructor(fd: number, json: boolean) {
    this.fd = fd;
    this.json = json;
  }

  write(source: string, message: DecodedExtended | DecodedLegacy, fragments: number): void {
    const line = this.json
      ? `${JSON.stringify(messageJson(message, source, fragments))}\n`
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
    let off = 0;
    while (off < data.length) off += writeSync(this.fd, data, off);
  }

  close(): void {
    this.flush();
  }
}

class DirSink implements Sink {
  private readonly path: string;
  private readonly pending = new Map<string, string[]>();
  /** Open host files, oldest first (a Map keeps insertion order). */
  private readonly fds = new Map<string, number>();
  private bytes = 0;

  constructor(path: string) {
    this.path = path;
  }

  write(source: string, message: DecodedExtended | DecodedLegacy): void {
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
      let fd = this.fds.get(source);
      if (fd === undefined) {
        if (this.fds.size >= OPEN_FILES) {
          const [oldest, oldFd] = this.fds.entries().next().value as [string, number];
          closeSync(oldFd);
          this.fds.delete(oldest);
        }
        fd = openSync(join(this.path, `${source}.log`), "a");
        this.fds.set(source, fd);
      }
      const data = Buffer.from(lines.join(""), "utf8");
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off);
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

const NONE_SINK: Sink = { write() {}, flush() {}, close() {} };

/** The sink a worker uses; `fd` comes from openOutput() in the main thread. */
export function createSink(spec: OutputSpec, fd: number): Sink {
  if (spec.kind === "print") return new FdSink(fd, false);
  if (spec.kind === "jsonl") return new FdSink(fd, true);
  if (spec.kind === "dir") return new DirSink(spec.path);
  return NONE_SINK;
}
