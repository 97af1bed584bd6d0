#!/usr/bin/env node
/**
 * Builds the netconsd probe module (receiver/probe/netcons-probe.so) and its test host program
 * (probe-host) during `npm ci` / `npm install`, with a plain C compiler: no node-gyp, no Node
 * headers. Output goes to receiver/probe/build/ (gitignored).
 *
 * Plain JavaScript on purpose: npm may run it with whatever `node` is first on PATH. It NEVER
 * fails the install: without a C compiler the probe is simply absent, and `netcons-bench probe`
 * and a scenario's `{probe}` placeholder say what is missing. Set NETCONS_BENCH_SKIP_NATIVE=1 to
 * skip the build. The compiler is $CC, else cc, else gcc.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const build = join(here, "build");
const TIMEOUT_MS = 120_000;
/** Where the reason for a missing build is kept, for `netcons-bench probe` to show. */
const ERROR_FILE = join(build, "build-error.txt");

const TARGETS = [
  {
    out: "netcons-probe.so",
    args: [
      "-shared",
      "-fPIC",
      "-O2",
      "-fvisibility=hidden",
      "probe.c",
      "probe-hosts.c",
      "-lpthread",
      "-lm",
    ],
  },
  { out: "probe-host", args: ["-O2", "probe-host.c", "-ldl", "-lpthread"] },
];

function note(message) {
  process.stderr.write(`netcons-bench: ${message}\n`);
}

function findCompiler() {
  for (const cc of [process.env.CC, "cc", "gcc"]) {
    if (cc && spawnSync(cc, ["--version"], { stdio: "ignore" }).status === 0) return cc;
  }
  return null;
}

/** Records why there is no build, and removes an older one (it would not match the sources). */
function fail(reason) {
  mkdirSync(build, { recursive: true });
  for (const target of TARGETS) rmSync(join(build, target.out), { force: true });
  writeFileSync(ERROR_FILE, `${reason}\n`);
  note(`netconsd probe not built: ${reason}. The install goes on without it.`);
}

function main() {
  if (process.env.NETCONS_BENCH_SKIP_NATIVE === "1") {
    fail("NETCONS_BENCH_SKIP_NATIVE=1 skipped the build");
    return;
  }
  const cc = findCompiler();
  if (!cc) {
    fail(
      "no C compiler (set CC, or install cc/gcc: Debian build-essential), then run `node receiver/probe/install.mjs`",
    );
    return;
  }
  mkdirSync(build, { recursive: true });
  for (const target of TARGETS) {
    // Built under a temporary name and renamed: a running netconsd keeps its mapped copy.
    const tmp = join(build, `${target.out}.tmp-${process.pid}`);
    const result = spawnSync(cc, ["-Wall", "-o", tmp, ...target.args], {
      cwd: here,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: TIMEOUT_MS,
      encoding: "utf8",
    });
    if (result.status !== 0) {
      rmSync(tmp, { force: true });
      const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
      const first = output
        .split("\n")
        .filter((l) => /error/i.test(l))
        .slice(0, 3)
        .join(" | ");
      fail(
        `${cc} failed on ${target.out} (${result.error?.message ?? (first || `status ${result.status}`)})`,
      );
      return;
    }
    renameSync(tmp, join(build, target.out));
  }
  rmSync(ERROR_FILE, { force: true });
  note(`netconsd probe built (receiver/probe/build/netcons-probe.so, with ${cc}).`);
}

try {
  main();
} catch (error) {
  try {
    fail(error?.message ?? String(error));
  } catch {
    note(`netconsd probe not built: ${error?.message ?? error}`);
  }
}
process.exitCode = 0;
