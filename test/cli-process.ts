/**
 * The CLI (scenarios/cli.ts) as a child process for tests: start it, collect its output, and a
 * `receive` on a free loopback port once it says where it listens.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";

const NODE = process.execPath;
const CLI = new URL("../scenarios/cli.ts", import.meta.url).pathname;

export interface Done {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a child process; `env` is added to this process's environment. */
export function startCli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(NODE, [CLI, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const done = new Promise<Done>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done, stderr: () => stderr };
}

export const cli = (args: string[], env: Record<string, string> = {}) => startCli(args, env).done;

/** `receive -b 127.0.0.1 -p 0 ARGS`, once it listens (60 s at most): its port and process. */
export async function receiveOnLoopback(args: string[]) {
  const r = startCli(["receive", "-b", "127.0.0.1", "-p", "0", ...args]);
  const end = Date.now() + 60_000;
  let port = 0;
  while (port === 0 && Date.now() < end) {
    const m = /listening on \[[^\]]*\]:(\d+)/.exec(r.stderr());
    if (m) port = Number(m[1]);
    else await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.ok(port > 0, `the receiver did not start: ${r.stderr()}`);
  return { port, ...r };
}
