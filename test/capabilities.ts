/**
 * Tests that depend on what the machine has (tcpdump, Chromium, raw sockets, a C compiler...):
 * a loud skip naming the capability and why it is missing, or a failure when the environment
 * variable NCB_REQUIRE lists that capability (CI sets it for everything it installs, so a
 * capability CI paid for can never be skipped silently). test/skip-reporter.ts counts and lists
 * the skips at the end of `npm test`.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { type TestContext, test } from "node:test";

/** What a test may need from the machine. */
export const CAPABILITIES = [
  /** tcpdump on PATH (wire checks of the raw transport). */
  "tcpdump",
  /** Debian's Chromium at /usr/bin/chromium (the HTML report in a real browser). */
  "chromium",
  /** The native addon built and raw sockets opened (root or CAP_NET_RAW). */
  "raw-sockets",
  /** The native addon (blaster/native) built: needs a C compiler at install time. */
  "addon",
  /** A C compiler (cc) on PATH. */
  "cc",
  /** Running as root (network namespaces, dropping capabilities). */
  "root",
] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** Where the HTML report test expects Debian's Chromium. */
export const CHROMIUM = "/usr/bin/chromium";

/** The prefix of every capability skip's message (the reporter groups skips by it). */
export const SKIP_PREFIX = "needs ";

/** The capabilities NCB_REQUIRE lists (comma or space separated); unknown words are an error. */
export function requiredCapabilities(env: NodeJS.ProcessEnv = process.env): Set<Capability> {
  const words = (env.NCB_REQUIRE ?? "").split(/[\s,]+/).filter((w) => w !== "");
  const unknown = words.filter((w) => !(CAPABILITIES as readonly string[]).includes(w));
  if (unknown.length > 0) {
    throw new Error(
      `NCB_REQUIRE names unknown capabilities: ${unknown.join(", ")} (known: ${CAPABILITIES.join(", ")})`,
    );
  }
  return new Set(words as Capability[]);
}

function message(capability: Capability, reason: string): string {
  return `${SKIP_PREFIX}${capability}: ${reason}`;
}

function requiredMessage(capability: Capability, reason: string): string {
  return `${capability} is required here (NCB_REQUIRE=${process.env.NCB_REQUIRE}) but missing: ${reason}`;
}

/**
 * Inside a test: `reason` says why `capability` is missing, or is null/undefined when it is there.
 * Returns true when the test can go on. Otherwise the test is skipped with
 * "needs CAPABILITY: reason" (and the caller returns), or, when NCB_REQUIRE lists the
 * capability, this throws and the test fails.
 *
 *     if (!needs(t, "tcpdump", missing("tcpdump"))) return;
 */
export function needs(
  t: TestContext,
  capability: Capability,
  reason: string | null | undefined,
): boolean {
  if (reason === null || reason === undefined) return true;
  if (requiredCapabilities().has(capability)) throw new Error(requiredMessage(capability, reason));
  t.skip(message(capability, reason));
  return false;
}

/**
 * For the `skip` option of a `describe` or `test` (a whole group that needs `capability`):
 * undefined when `reason` is null/undefined (run it), else the skip message. When NCB_REQUIRE
 * lists the capability, it also registers a failing test that says what is missing (the group
 * itself is still skipped: its tests would only fail for the same reason, less clearly).
 */
export function skipUnless(
  capability: Capability,
  reason: string | null | undefined,
): string | undefined {
  if (reason === null || reason === undefined) return undefined;
  if (requiredCapabilities().has(capability)) {
    test(`${capability} is available`, () => {
      throw new Error(requiredMessage(capability, reason));
    });
  }
  return message(capability, reason);
}

/** Why `capability` is missing on this machine, or null. (raw-sockets/addon: ask the addon.) */
export function missing(capability: "tcpdump" | "chromium" | "cc" | "root"): string | null {
  switch (capability) {
    case "tcpdump":
      return spawnSync("tcpdump", ["--version"], { stdio: "ignore" }).status === 0
        ? null
        : "tcpdump is not installed (.ci/run installs it)";
    case "chromium":
      return existsSync(CHROMIUM) ? null : `no ${CHROMIUM} (.ci/run installs Debian's chromium)`;
    case "cc":
      return spawnSync("cc", ["--version"], { stdio: "ignore" }).status === 0
        ? null
        : "no C compiler (cc) on PATH";
    case "root":
      return process.getuid?.() === 0 ? null : "not running as root";
  }
}
