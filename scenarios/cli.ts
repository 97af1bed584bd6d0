/**
 * netcons-bench: the command line (started through netcons-bench.mjs). A thin layer: each command lives in
 * scenarios/commands/<name>.ts and calls the programmatic API of blaster/, receiver/ or
 * scenarios/.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { EXIT, UsageError } from "./options.ts";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
  description: string;
};

/** The modules that add a command each (registered in this order in --help). */
const COMMAND_MODULES = ["blast", "receive", "run", "decode", "bench", "probe"];

/**
 * The program with its commands. With `only` naming a command, just that command's module is
 * loaded: the others pull in zod, yaml, tinybench, the receiver... which cost a blaster run tens
 * of MB of RSS for nothing. `--help` and unknown words load them all.
 */
export async function buildProgram(only?: string): Promise<Command> {
  const program = new Command("netcons-bench")
    .description(pkg.description)
    .version(pkg.version, "-V, --version")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  const names = only !== undefined && COMMAND_MODULES.includes(only) ? [only] : COMMAND_MODULES;
  for (const name of names) {
    const mod = (await import(new URL(`./commands/${name}.ts`, import.meta.url).href)) as {
      register: (program: Command) => void;
    };
    mod.register(program);
  }
  for (const command of program.commands) command.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  // The first word that is not an option names the command (the top level has only -V and -h).
  const program = await buildProgram(argv.slice(2).find((word) => !word.startsWith("-")));
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // help and version are "errors" to commander; everything else is a usage mistake.
      if (
        error.exitCode === 0 ||
        error.code === "commander.helpDisplayed" ||
        error.code === "commander.version"
      ) {
        return EXIT.ok;
      }
      return EXIT.usage;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`netcons-bench: ${error.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`netcons-bench: ${(error as Error)?.stack ?? String(error)}\n`);
    return EXIT.failure;
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv);
}
