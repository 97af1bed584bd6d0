/** `netcons-bench decode [FILE]`: payload lines in, one JSON object per message out. */
import { createReadStream } from "node:fs";
import type { Command } from "commander";
import { decodeLines, MAX_LINE_BYTES, splitLines } from "../../receiver/decode-stream.ts";
import { jsonLine } from "../../receiver/message-json.ts";
import { sinkErrorText } from "../../receiver/sinks.ts";
import { count } from "../format.ts";
import { EXIT, errorLine, integerOption, UsageError } from "../options.ts";

export function register(program: Command): void {
  program
    .command("decode")
    .description(
      `Decode netconsole payloads, one per line in C-style escapes (\\n, \\\\, \\xNN), into one JSON object per message; fragments are reassembled. A line longer than ${MAX_LINE_BYTES} bytes is reported as malformed without being held; exit 1 when any line was malformed.`,
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
      // stdout's reader may go away (`decode | head -1`): stop reading, say so once, exit 1.
      let outputError: string | null = null;
      const stdoutFailed = (error: unknown) => {
        outputError ??= sinkErrorText(error, "stdout");
      };
      process.stdout.on("error", stdoutFailed);
      let malformed = 0;
      let messages = 0;
      for await (const result of decodeLines(splitLines(input as AsyncIterable<Buffer>), {
        maxMessageBytes: opts.maxMessageBytes,
        source: opts.source,
      })) {
        if (result.kind === "malformed") malformed++;
        else if (result.kind !== "incomplete") messages++;
        // Wait for a slow reader rather than queueing output: memory stays constant.
        if (!process.stdout.write(jsonLine(result))) {
          await new Promise<void>((resolve) => {
            process.stdout.once("drain", resolve);
            process.stdout.once("error", () => resolve());
          });
        }
        if (outputError !== null) break;
      }
      input.destroy();
      if (outputError !== null) {
        process.stderr.write(errorLine(outputError, "decode"));
        process.exitCode = EXIT.failure;
      } else if (malformed > 0) {
        process.stderr.write(
          errorLine(
            `${count(malformed)} malformed line${malformed === 1 ? "" : "s"} (${count(messages)} messages decoded)`,
            "decode",
          ),
        );
        process.exitCode = EXIT.failure;
      }
    });
}
