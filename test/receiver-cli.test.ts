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
import { runBlast } from "../blaster/blast.ts";
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

  it("a second signal 20 ms after the first still leaves a complete --json report", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ncb-receive-cli-"));
    const json = join(dir, "report.json");
    const p = run(["receive", "-b", "127.0.0.1", "-p", "0", "-l", "2", "--json", json]);
    const done = exited(p.child);
    targetPort(await listeningPort(p.stderr));
    const s = await sender("127.0.0.11");
    for (let seq = 0; seq < 10; seq++) {
      await s.send(encodeExtended({ facility: 0, level: 6, seq, tsUs: 0, text: `m${seq}` })[0]);
    }
    s.close();
    await pause(300);
    p.child.kill("SIGINT");
    await pause(20);
    p.child.kill("SIGINT");
    assert.equal(await done, EXIT.interrupted, p.stderr());
    const report = receiverReportSchema.parse(JSON.parse(readFileSync(json, "utf8")));
    // Either the real report made it, or the one from the live counters (marked incomplete).
    assert.equal(report.packets.read, 10);
    if (!report.complete) assert.match(report.stopReason, /SIGINT twice/);
  });

  it("stops with exit 1 and a balanced report when the reader of -o print goes away", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ncb-receive-cli-"));
    const json = join(dir, "report.json");
    const p = run(["receive", "-b", "127.0.0.1", "-p", "0", "-o", "print", "--json", json]);
    const done = exited(p.child);
    targetPort(await listeningPort(p.stderr));
    const s = await sender("127.0.0.12");
    let seq = 0;
    // As `| head -1`: read the first line, then close the pipe.
    while (!p.stdout().includes("\n") && seq < 1000) {
      await s.send(encodeExtended({ facility: 0, level: 6, seq: seq++, tsUs: 0, text: "x" })[0]);
      await pause(5);
    }
    p.child.stdout!.destroy();
    const end = Date.now() + 10_000;
    let code: number | null | undefined;
    void done.then((c) => {
      code = c;
    });
    // Keep sending until the receiver notices (bounded): each message is another write to stdout.
    while (code === undefined && Date.now() < end) {
      await s.send(encodeExtended({ facility: 0, level: 6, seq: seq++, tsUs: 0, text: "x" })[0]);
      await pause(5);
    }
    s.close();
    assert.equal(await done, EXIT.failure, p.stderr());
    const report = receiverReportSchema.parse(JSON.parse(readFileSync(json, "utf8")));
    assert.match(report.stopReason, /output failed: .*EPIPE/);
    assert.ok(report.failures.some((f) => /output failed/.test(f)));
    assert.equal(report.complete, true);
    // Every datagram read is accounted for: processed or dropped in a queue.
    assert.equal(report.packets.read, report.packets.received + report.drops.queue);
    assert.equal(report.packets.received, report.messages.extended);
  });

  it("--queue-limit is exact with several listeners", async () => {
    // Two listeners share one worker's queue of one place: reserving it must be atomic.
    const p = run([
      ...["receive", "-b", "127.0.0.1", "-p", "0", "-l", "2", "-w", "1"],
      ...["--queue-limit", "1", "--rcvbuf", "4m", "--json", "-"],
    ]);
    const done = exited(p.child);
    const port = await listeningPort(p.stderr);
    // Many sources, so SO_REUSEPORT spreads them over both listeners, sent as fast as possible
    // (before the reservation was atomic this reached a depth of 2).
    await runBlast({
      target: `127.0.0.1:${port}`,
      hosts: 64,
      count: 200_000,
      format: "extended",
      size: 64,
    });
    await pause(500);
    p.child.kill("SIGINT");
    assert.equal(await done, EXIT.interrupted, p.stderr());
    const report = receiverReportSchema.parse(JSON.parse(p.stdout()));
    assert.ok(report.drops.queue > 0, "the queue was full at times");
    assert.equal(report.queue.maxDepth, 1);
    assert.equal(report.packets.read, report.packets.received + report.drops.queue);
  });
});
