/**
 * A target's output kept within bounds in memory: its start (start-up errors) and its end
 * (netconsd's exit statistics). Pure: chunks in, text out.
 */

/** Output kept from the start (start-up errors) and from the end (netconsd's exit statistics). */
const HEAD_CAP = 1 << 20;
const TAIL_CAP = 256 << 10;

/**
 * A target's output, kept within bounds: the first HEAD_CAP characters and the last TAIL_CAP
 * (a verbose output module such as printer.so writes megabytes per second, and the exit
 * statistics come last). Pure: chunks in, text out.
 */
export class OutputKeeper {
  private head = "";
  private tailChunks: string[] = [];
  private tailLength = 0;
  /** Characters seen in all. */
  total = 0;

  add(chunk: string): void {
    this.total += chunk.length;
    if (this.head.length < HEAD_CAP) {
      const room = HEAD_CAP - this.head.length;
      this.head += chunk.slice(0, room);
      if (chunk.length <= room) return;
      chunk = chunk.slice(room);
    }
    this.tailChunks.push(chunk);
    this.tailLength += chunk.length;
    // Trim whole chunks once the tail holds twice its cap (amortised, no per-chunk copying).
    if (this.tailLength > 2 * TAIL_CAP) {
      const joined = this.tailChunks.join("").slice(-TAIL_CAP);
      this.tailChunks = [joined];
      this.tailLength = joined.length;
    }
  }

  /** Everything when it fit; else the head, a marker with what was left out, and the tail. */
  text(): string {
    const tail = this.tailChunks.join("").slice(-TAIL_CAP);
    const skipped = this.total - this.head.length - tail.length;
    if (skipped <= 0) return this.head + tail;
    return `${this.head}\n[... ${skipped} characters of output not kept ...]\n${tail}`;
  }

  /** The last lines, for error messages and the report. */
  lastLines(n: number): string {
    const tail = this.tailLength > 0 ? this.tailChunks.join("").slice(-TAIL_CAP) : this.head;
    return tail.trimEnd().split("\n").slice(-n).join("\n").trim();
  }
}
