import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { cEscaped, WIRE_VECTORS } from "./vectors.ts";

const cli = new URL("../scenarios/cli.ts", import.meta.url).pathname;

function decode(input: string, args: string[] = []) {
  const run = spawnSync(process.execPath, [cli, "decode", ...args], { input, encoding: "utf8" });
  const lines = run.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  return { status: run.status, lines, stderr: run.stderr };
}

describe("decode command", () => {
  it("turns every wire-format test vector into the right JSON", () => {
    // The wire-format test vectors (test/vectors.ts) in C escapes, one payload per line, plus UTF-8
    // text that the kernel escaped byte by byte.
    const input = [
      ...WIRE_VECTORS.flatMap((v) => v.payloads.map(cEscaped)),
      "6,1,1,-;caf\\\\xc3\\\\xa9",
    ];
    const { status, lines } = decode(`${input.join("\n")}\n`);
    assert.equal(status, 0);
    const flags = { contStart: false, cont: false, emg: false };
    assert.deepEqual(lines, [
      ...WIRE_VECTORS.map((v) => ({ source: "stream", ...v.message })),
      {
        source: "stream",
        kind: "extended",
        seq: 1,
        facility: 0,
        level: 6,
        tsUs: 1,
        flags,
        text: "café",
        dict: {},
      },
    ]);
  });

  it("reports malformed lines and incomplete messages, and keeps going", () => {
    const { status, lines, stderr } = decode(
      "bad\\q\n6,1,1,-,ncfrag=40/31;x\n6,2,1,-,ncfrag=0/31;only the first\n6,3,1,-;ok\n",
    );
    assert.equal(status, 1, "malformed input: exit 1");
    assert.deepEqual(lines, [
      { kind: "malformed", line: 1, reason: "unknown escape \\q at column 4" },
      { kind: "malformed", line: 2, reason: "ncfrag offset 40 not below total 31" },
      {
        source: "stream",
        kind: "extended",
        seq: 3,
        facility: 0,
        level: 6,
        tsUs: 1,
        flags: { contStart: false, cont: false, emg: false },
        text: "ok",
        dict: {},
      },
      { kind: "incomplete", incomplete: 1 },
    ]);
    assert.match(stderr, /^netcons-bench: decode: 2 malformed lines \(1 messages decoded\)\n$/);
  });

  it("reads a file argument, and a missing file is a clear usage error (exit 2)", () => {
    const dir = mkdtempSync(join(tmpdir(), "ncb-decode-"));
    const file = join(dir, "payloads.txt");
    writeFileSync(file, "6,9,9,-;from a file\n");
    const ok = spawnSync(process.execPath, [cli, "decode", file], { encoding: "utf8" });
    assert.equal(ok.status, 0);
    assert.equal(JSON.parse(ok.stdout).text, "from a file");
    const missing = spawnSync(process.execPath, [cli, "decode", join(dir, "nope")], {
      encoding: "utf8",
    });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /cannot read .*nope: ENOENT/);
    const badFlag = spawnSync(process.execPath, [cli, "decode", "--max-message-bytes", "lots"], {
      encoding: "utf8",
    });
    assert.equal(badFlag.status, 2);
    assert.match(badFlag.stderr, /--max-message-bytes.*expected an integer/);
  });

  it("streams: a 100 MB line is reported as malformed in constant memory, the next line decodes", () => {
    // Before: readline buffered the whole line (860 MB peak for 100 MB).
    const dir = mkdtempSync(join(tmpdir(), "ncb-decode-"));
    const file = join(dir, "huge.txt");
    const fd = openSync(file, "w");
    const block = Buffer.alloc(1 << 20, 0x41);
    for (let i = 0; i < 100; i++) writeSync(fd, block);
    writeSync(fd, "\n6,1,1,-;after\r\n");
    closeSync(fd);
    const run = spawnSync(
      "/usr/bin/time",
      ["-f", "maxrss_kb=%M", process.execPath, cli, "decode", file],
      { encoding: "utf8", maxBuffer: 1 << 20 },
    );
    assert.equal(run.status, 1);
    const lines = run.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    assert.deepEqual(lines[0], {
      kind: "malformed",
      line: 1,
      reason: `line of ${100 << 20} bytes, longer than ${4 * 65_535}`,
    });
    assert.equal(lines[1].text, "after");
    const rssKb = Number(/maxrss_kb=(\d+)/.exec(run.stderr)?.[1]);
    assert.ok(rssKb < 300 * 1024, `peak RSS ${rssKb} kB`);
  });

  it("one message per line: control characters in the text are escaped in the JSON", () => {
    const { lines } = decode("6,1,1,-;a\\\\x0ab\\\\xc2\\\\x85c\n");
    assert.equal(lines.length, 1);
    assert.equal(lines[0].text, "a\nb\u0085c");
  });
});
