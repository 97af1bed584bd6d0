/** `netcons-bench decode [FILE]`: payload lines in, one JSON object per message out. */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { Command } from "commander";
import { decodeLines } from "../../receiver/decode-stream.ts";
import { integerOption, UsageError } from "../options.ts";

export function register(program: Command): void {
  program
    .command("decode")
    .description(
      "Decode netconsole payloads, one per line in C-style escapes (\\n, \\\\, \\xNN), into one JSON object per message; fragments are reassembled.",
    )
    .argument("[file]", "file of payload lines, or - for standard input", "-")
    .option(
      "--max-message-bytes <n>",
      "largest ncfrag total accepted",
      integerOption("--max-message-bytes", 1, 1 << 24),
      8192,
    )
    .option("--source <name>", "source name to report", "stream")
    .action(async (file: string, opts: { maxMessageBytes: number; source: string }) => {
      const input = file === "-" ? process.stdin : createReadStream(file);
      const opened = new Promise<void>((resolve, reject) => {
        if (file === "-") resolve();
        input.once("open", () => resolve());
        input.once("error", (error: NodeJS.ErrnoException) =>
          reject(new UsageError(`cannot read ${file}: ${error.code ?? error.message}`)),
        );
      });
      await opened;
      const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
      let malformed = 0;
      for await (const result of decodeLines(lines, {
        maxMessageBytes: opts.maxMessageBytes,
        source: opts.source,
      })) {
        if (result.kind === "malformed") malformed++;
        process.stdout.write(`${JSON.stringify(result)}\n`);
      }
      if (malformed > 0) process.stderr.write(`decode: ${malformed} malformed line(s)\n`);
    });
}
