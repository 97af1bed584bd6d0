#!/usr/bin/env node
/**
 * Builds the optional native addon (blaster/native/netraw.c) during `npm ci` / `npm install`.
 *
 * Plain JavaScript on purpose: npm may run it with whatever `node` is first on PATH (the system's
 * Node 20 has no type stripping). It NEVER fails the install: without a C compiler, make, python3
 * or Node's headers the addon is simply absent (receive then reads with Node's dgram, about 4x the
 * listener CPU), and `--transport raw` / `udp-batch` then say what is
 * missing (blaster/raw/native.ts). Set NETCONS_BENCH_SKIP_NATIVE=1 to skip the build.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const BUILD_TIMEOUT_MS = 180_000;

function note(message) {
  process.stderr.write(`netcons-bench: ${message}\n`);
}

/** node-gyp: the one npm hands to scripts, else the one inside npm, else one on PATH. */
function findNodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  if (process.env.npm_execpath) {
    candidates.push(
      join(
        dirname(process.env.npm_execpath),
        "..",
        "node_modules",
        "node-gyp",
        "bin",
        "node-gyp.js",
      ),
    );
  }
  candidates.push("/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js");
  for (const c of candidates)
    if (c && existsSync(c)) return { command: process.execPath, args: [c] };
  return { command: "node-gyp", args: [] };
}

/**
 * Node-API is ABI-stable, so any installed Node headers do. Prefer the configured nodedir (this
 * machine's npm sets nodedir=/usr), else the system headers: without a nodedir node-gyp would try
 * to download headers, which fails offline.
 */
function findNodeDir() {
  const configured = process.env.npm_config_nodedir;
  if (configured && existsSync(join(configured, "include", "node", "node_api.h")))
    return configured;
  for (const dir of ["/usr", "/usr/local", join(dirname(process.execPath), "..")]) {
    if (existsSync(join(dir, "include", "node", "node_api.h"))) return dir;
  }
  return undefined;
}

function main() {
  if (process.env.NETCONS_BENCH_SKIP_NATIVE === "1") {
    note(
      "NETCONS_BENCH_SKIP_NATIVE=1: native addon (raw and udp-batch transports, receive's native listener) not built.",
    );
    return;
  }
  const nodedir = findNodeDir();
  if (!nodedir) {
    note(
      "native addon not built: no Node headers (include/node/node_api.h) found; install the " +
        "distribution's Node development headers (Debian: libnode-dev) and run `node blaster/native/install.mjs`. " +
        "--transport raw and udp-batch are unavailable until then; receive uses its dgram listener.",
    );
    return;
  }
  const gyp = findNodeGyp();
  const args = [...gyp.args, "rebuild", `--directory=${here}`, `--nodedir=${nodedir}`];
  const result = spawnSync(gyp.command, args, {
    stdio: ["ignore", "pipe", "pipe"],
    timeout: BUILD_TIMEOUT_MS,
    encoding: "utf8",
  });
  if (result.status === 0 && existsSync(join(here, "build", "Release", "netraw.node"))) {
    note("native addon built (blaster/native/build/Release/netraw.node).");
    return;
  }
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
  const reason = result.error
    ? result.error.message
    : output
        .split("\n")
        .filter((l) => /error|not found|No such file/i.test(l))
        .slice(0, 3)
        .join(" | ") || `node-gyp exited with status ${result.status}`;
  note(
    `native addon not built (${reason}). The install goes on (receive uses its dgram listener); --transport raw and udp-batch need ` +
      "a C compiler, make and python3 (Debian: build-essential python3), then `node blaster/native/install.mjs`.",
  );
}

try {
  main();
} catch (error) {
  note(`native addon not built: ${error?.message ?? error}`);
}
process.exitCode = 0;
