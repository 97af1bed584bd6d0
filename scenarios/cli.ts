/**
 * netcons-bench: the command line (started through netcons-bench.mjs). A thin layer: each command lives in
 * scenarios/commands/<name>.ts and calls the programmatic API of blaster/, receiver/ or
 * scenarios/.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { EXIT, errorLine, oneLine, UsageError } from "./options.ts";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
  description: string;
};

/** The modules that add a command each (registered in this order in --help). */
const COMMAND_MODULES = ["blast", "receive", "run", "decode", "bench", "probe", "merge"];

/** Words that print the version, besides commander's own `-V` / `--version`. */
const VERSION_WORDS = ["-v", "version"];

/**
 * The program with its commands. With `only` naming a command, just that command's module is
 * loaded: the others pull in zod, yaml, tinybench, the receiver... which cost a blaster run tens
 * of MB of RSS for nothing. `--help` and unknown words load them all; `only = "version"` none.
 */
export async function buildProgram(only?: string): Promise<Command> {
  const program = new Command("netcons-bench")
    .description(pkg.description)
    .version(pkg.version, "-V, --version", "print the version (also -v or `version`)")
    .option("--debug", "print the stack trace of an error (also NCB_DEBUG=1); anywhere on the line")
    .exitOverride();
  program
    .command("version")
    .description("print the version")
    .action(() => {
      process.stdout.write(`${pkg.version}\n`);
    });
  const names =
    only === "version"
      ? []
      : only !== undefined && COMMAND_MODULES.includes(only)
        ? [only]
        : COMMAND_MODULES;
  for (const name of names) {
    const mod = (await import(new URL(`./commands/${name}.ts`, import.meta.url).href)) as {
      register: (program: Command) => void;
    };
    mod.register(program);
  }
  // Commander's own error text is 2-3 lines without the program's name: main() prints it instead.
  const quiet = (command: Command): void => {
    command.exitOverride().configureOutput({ outputError: () => {} });
    for (const sub of command.commands) quiet(sub);
  };
  quiet(program);
  return program;
}

/**
 * The words after the program name, with `--debug` taken out (it sets NCB_DEBUG=1, inherited by
 * workers and child processes) and `-v` / `version` as the first word meaning `--version`.
 */
function normalise(args: string[]): string[] {
  const end = args.indexOf("--");
  const head = end < 0 ? args : args.slice(0, end);
  const tail = end < 0 ? [] : args.slice(end);
  if (head.includes("--debug")) process.env.NCB_DEBUG = "1";
  const kept = head.filter((word) => word !== "--debug");
  if (kept.length === 1 && VERSION_WORDS.includes(kept[0])) kept[0] = "--version";
  return [...kept, ...tail];
}

/** Commander's message as one line: `unknown option '--x' (see netcons-bench blast --help)`. */
function usageLine(error: CommanderError, command: string | undefined): string {
  const message = oneLine(error.message.replace(/^error: /, ""));
  const help = `netcons-bench${command === undefined ? "" : ` ${command}`} --help`;
  return `netcons-bench: ${message} (see ${help})\n`;
}

/** An error nothing caught (a socket callback, a rejected promise): one line, exit 1. */
function crash(error: unknown): void {
  process.stderr.write(errorLine(error));
  process.exit(EXIT.failure);
}

/**
 * For the program itself (not for main() called in a test's process): an error no command caught
 * ends the process with one line (the stack with --debug) instead of Node's stack dump.
 */
export function handleUncaught(): void {
  process.on("uncaughtException", crash);
  process.on("unhandledRejection", crash);
}

export async function main(argv: string[]): Promise<number> {
  const args = normalise(argv.slice(2));
  // The first word that is not an option names the command (the top level has only -V and -h).
  const word = args.find((w) => !w.startsWith("-"));
  const only = args[0] === "--version" || args[0] === "-V" ? "version" : word;
  try {
    const program = await buildProgram(only);
    const known = program.commands.some((c) => c.name() === word) ? word : undefined;
    try {
      await program.parseAsync(args, { from: "user" });
    } catch (error) {
      if (!(error instanceof CommanderError)) throw error;
      // help and version are "errors" to commander; a missing command prints the help on stderr.
      if (
        error.exitCode === 0 ||
        error.code === "commander.helpDisplayed" ||
        error.code === "commander.version"
      ) {
        return EXIT.ok;
      }
      if (error.code !== "commander.help") process.stderr.write(usageLine(error, known));
      return EXIT.usage;
    }
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (error) {
    process.stderr.write(errorLine(error));
    return error instanceof UsageError ? EXIT.usage : EXIT.failure;
  }
}

if (import.meta.main) {
  handleUncaught();
  process.exitCode = await main(process.argv);
}
