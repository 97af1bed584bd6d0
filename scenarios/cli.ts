#!/usr/bin/env node
/**
 * netcons-bench: the command-line entry. A thin layer: each command lives in
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
const COMMAND_MODULES = ["blast", "receive", "run", "decode", "bench"];

export async function buildProgram(): Promise<Command> {
  const program = new Command("netcons-bench")
    .description(pkg.description)
    .version(pkg.version, "-V, --version")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  for (const name of COMMAND_MODULES) {
    const url = new URL(`./commands/${name}.ts`, import.meta.url);
    let mod: { register?: (program: Command) => void };
    try {
      mod = await import(url.href);
    } catch (error) {
      if (
        (error as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND" &&
        String(error).includes(`commands/${name}.ts`)
      ) {
        continue; // that command is not built yet
      }
      throw error;
    }
    mod.register?.(program);
  }
  for (const command of program.commands) command.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram();
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
