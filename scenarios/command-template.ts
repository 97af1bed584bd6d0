/**
 * Command templates of a command target: the `{name}` placeholders a scenario's
 * `target.command` may use, filling them in, and finding the executable a command line runs.
 * Pure (strings in, strings out).
 */

/**
 * Placeholders every command template may use (besides target.vars): the trial's thread counts,
 * port and address, this Node and this toolkit's CLI (e.g. to run our receiver as a separate
 * process), the trial's output path without extension, and the netconsd probe module
 * (scenarios/probe.ts).
 */
export const COMMAND_PLACEHOLDERS = [
  "listeners",
  "workers",
  "port",
  "address",
  "node",
  "cli",
  "out",
  "probe",
] as const;

/**
 * Fills `{name}` placeholders. Every placeholder must be known (a typo in a scenario file is an
 * error, not a silently empty flag). Values other than plain words are single-quoted for sh.
 */
export function expandTemplate(template: string, vars: Record<string, string | number>): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_.]*)\}/g, (_, name: string) => {
    if (!Object.hasOwn(vars, name)) {
      throw new Error(
        `unknown placeholder {${name}} (known: ${Object.keys(vars)
          .map((k) => `{${k}}`)
          .join(" ")})`,
      );
    }
    const value = String(vars[name]);
    return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
  });
}

/** The placeholders a template uses. */
export function placeholdersOf(template: string): string[] {
  return [...template.matchAll(/\{([A-Za-z_][A-Za-z0-9_.]*)\}/g)].map((m) => m[1]);
}

/** A sh word: plain words as they are, anything else single-quoted. */
export function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * The program a command line starts: its first word, after any leading `NAME=value`
 * assignments and an `exec` or `env`, with simple single or double quotes removed. Null for an
 * empty line. Only the first command of a compound line is looked at.
 */
export function executableOf(command: string): string | null {
  const words = command.trim().match(/'[^']*'|"[^"]*"|[^\s;&|()]+/g) ?? [];
  for (const word of words) {
    const plain = word.replace(/^'(.*)'$|^"(.*)"$/s, "$1$2");
    if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(word)) continue;
    if (plain === "exec" || plain === "env") continue;
    return plain;
  }
  return null;
}
