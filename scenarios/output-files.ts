/**
 * Output files named on the command line (--json, --report, --hdr...): checked before a run,
 * written after it. Shared by the commands so that each refuses a bad path the same way.
 */
import { accessSync, constants, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { UsageError } from "./options.ts";

/** Why `file` could not be written (an errno code), or null. Creates and truncates nothing. */
function unwritable(file: string): string | null {
  try {
    const stat = statSync(file, { throwIfNoEntry: false });
    if (stat?.isDirectory()) return "EISDIR";
    const dir = dirname(file);
    if (!stat && !statSync(dir).isDirectory()) return "ENOTDIR";
    accessSync(stat ? file : dir, constants.W_OK);
    return null;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  }
}

/**
 * Throws a UsageError (one line, exit 2) for the first output file that could not be written, so
 * a bad path fails before the run instead of losing its report after it. Absent files and "-"
 * (stdout) pass; nothing is created or truncated (an existing baseline stays intact if the run
 * is interrupted).
 */
export function checkWritable(outputs: readonly (readonly [string, string | undefined])[]): void {
  for (const [flag, file] of outputs) {
    if (file === undefined || file === "-") continue;
    const why = unwritable(file);
    if (why !== null) throw new UsageError(`cannot write ${flag} ${file}: ${why}`);
  }
}

/** `text` into `file`, or onto stdout for "-". */
export function writeText(file: string, text: string): void {
  if (file === "-") process.stdout.write(text);
  else writeFileSync(file, text);
}

/** Indented JSON and a newline, into `file`, or onto stdout for "-". */
export function writeJson(file: string, data: unknown): void {
  writeText(file, `${JSON.stringify(data, null, 2)}\n`);
}

/**
 * Where human output goes: stderr when any of the JSON targets is "-" (stdout then holds only
 * that JSON, for a pipe such as `| jq`), stdout otherwise. Undefined targets are ignored.
 */
export function humanOut(...jsonTargets: readonly (string | undefined)[]): NodeJS.WriteStream {
  return jsonTargets.includes("-") ? process.stderr : process.stdout;
}
