/**
 * The `receive` command as a child process (scenarios/cli.ts): Ctrl-C (SIGINT) and SIGTERM
 * still write the report.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { encodeExtended } from "../blaster/codec.ts";
import { receiverReportSchema } from "../receiver/receiver-report.ts";
import { EXIT } from "../scenarios/options.ts";
import { pause, sender, targetPort } from "./receiver-helpers.ts";

const CLI = fileURLToPath(new URL("../scenarios/cli.ts", import.meta.url));

function run(args: string[]): { child: ChildProcess; stdout: () => string; stderr: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => {
    out += d;
  });
  child.stderr!.on("data", (d) => {
    err += d;
  });
  return { child, stdout: () => out, stderr: () => err };
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

async function listeningPort(stderr: () => string, timeoutMs = 10_000): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const m = /listening on \[[^\]]+\]:(\d+)/.exec(stderr());
    if (m) return Number(m[1]);
    await pause(20);
  }
  throw new Error(`receive did not start: ${stderr()}`);
}

describe("receive command (child process)", () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`writes the report on ${signal}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "ncb-receive-cli-"));
      const json = join(dir, "report.json");
      const ndjson = join(dir, "progress.ndjson");
      const hdr = join(dir, "latency.hdr");
      const p = run([
        "receive",
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--json",
        json,
        "--ndjson",
        ndjson,
        "--interval",
        "100ms",
        "--hdr",
        hdr,
      ]);
      const done = exited(p.child);
      targetPort(await listeningPort(p.stderr));
      const s = await sender("127.0.0.9");
      for (let seq = 0; seq < 25; seq++) {
        await s.send(encodeExtended({ facility: 0, level: 6, seq, tsUs: 0, text: `m${seq}` })[0]);
      }
      s.close();
      await pause(300);
      p.child.kill(signal);
      const code = await done;
      assert.equal(code, EXIT.interrupted, p.stderr());
      const report = JSON.parse(readFileSync(json, "utf8"));
      assert.equal(report.stopReason, signal);
      // The report as written parses with its schema (strict: no field missing or unknown).
      receiverReportSchema.parse(report);
      assert.equal(report.complete, true);
      assert.equal(report.packets.received, 25);
      assert.equal(report.messages.extended, 25);
      assert.match(p.stdout(), /sequence {2}missing 0/);
      assert.ok(readFileSync(ndjson, "utf8").trim().split("\n").length >= 1);
      assert.match(readFileSync(hdr, "utf8"), /Percentile/);
      assert.match(readFileSync(`${hdr}.queue`, "utf8"), /Total count\s+=\s+25\]/);
    });
  }

  it("prints messages with -o print and stops on --duration", async () => {
    const p = run(["receive", "--bind", "127.0.0.1", "--port", "0", "-o", "print", "-d", "1500ms"]);
    const done = exited(p.child);
    targetPort(await listeningPort(p.stderr));
    const s = await sender("127.0.0.10");
    await s.send(encodeExtended({ facility: 0, level: 3, seq: 5, tsUs: 77, text: "printed" })[0]);
    s.close();
    assert.equal(await done, EXIT.ok, p.stderr());
    assert.equal(p.stdout(), "127.0.0.10 S5 T77 F0/L3 printed\n", "stdout carries only messages");
    assert.match(p.stderr(), /\(duration\)/, "the report goes to stderr with -o print");
  });

  it("stops by itself on --idle-exit and rejects bad flags with exit 2", async () => {
    const p = run(["receive", "--bind", "127.0.0.1", "--port", "0", "--idle-exit", "300ms"]);
    assert.equal(await exited(p.child), EXIT.ok, p.stderr());
    assert.match(p.stdout(), /\(idle\)/);
    const bad = run(["receive", "--workers", "0"]);
    assert.equal(await exited(bad.child), EXIT.usage);
    assert.match(bad.stderr(), /--workers.*expected an integer from 1 to 64/);
    const unwritable = run(["receive", "--port", "0", "--json", "/nonexistent-dir/report.json"]);
    assert.equal(await exited(unwritable.child), EXIT.usage);
    assert.match(unwritable.stderr(), /cannot write --json \/nonexistent-dir\/report.json: ENOENT/);
    const clash = run([
      "receive",
      "-b",
      "127.0.0.1",
      "-p",
      "0",
      "-d",
      "1s",
      "-o",
      "print",
      "--json",
      "-",
    ]);
    assert.equal(await exited(clash.child), EXIT.usage);
    assert.equal(
      clash.stderr(),
      "netcons-bench: --json - with -o print: the report would be mixed into the messages on stdout\n",
    );
  });
});
