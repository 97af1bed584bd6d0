import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

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
    // The vectors of wire-format.md section 4, in its C escapes, one payload per line.
    const vectors = [
      "6.4.0,6,444,501151268,-;netconsole: network logging started",
      "6,416,1758426,-,ncfrag=0/31;the first chunk,",
      "6,416,1758426,-,ncfrag=16/31; the 2nd chunk.",
      "12,607,22085407756,-;This is a message\\n foo=bar\\n qux=baz\\n",
      "13,434,54928466,-;This is message #1\\n msgid=1\\n",
      "7,160,424069,-;pci_root PNP0A03:00: host bridge window [io  0x0000-0x0cf7] (ignored)\\n SUBSYSTEM=acpi\\n DEVICE=+acpi:PNP0A03:00\\n",
      "6.11.1-0_fbk0_rc13_509_g30d75cea12f7,13,1822,115075213798,-;netconsole selftest: netcons_gtJHM\\n key=value",
      "[   22.671488] raid6: using algorithm avx2x4 gen() 21138 MB/s",
      `6.8.0,6,1234,5678901234,-,ncfrag=0/1222;${"A".repeat(960)}`,
      `6.8.0,6,1234,5678901234,-,ncfrag=960/1222;${"A".repeat(240)}\\n k=v\\n cpu=3\\n msgid=7\\n`,
      "6,1,1,-;caf\\\\xc3\\\\xa9",
    ];
    const { status, lines } = decode(`${vectors.join("\n")}\n`);
    assert.equal(status, 0);
    const flags = { contStart: false, cont: false, emg: false };
    const s = "stream";
    assert.deepEqual(lines, [
      {
        source: s,
        kind: "extended",
        seq: 444,
        facility: 0,
        level: 6,
        tsUs: 501151268,
        flags,
        release: "6.4.0",
        text: "netconsole: network logging started",
        dict: {},
      },
      {
        source: s,
        kind: "extended",
        seq: 416,
        facility: 0,
        level: 6,
        tsUs: 1758426,
        flags,
        text: "the first chunk, the 2nd chunk.",
        dict: {},
        fragments: 2,
      },
      {
        source: s,
        kind: "extended",
        seq: 607,
        facility: 1,
        level: 4,
        tsUs: 22085407756,
        flags,
        text: "This is a message",
        dict: { foo: "bar", qux: "baz" },
      },
      {
        source: s,
        kind: "extended",
        seq: 434,
        facility: 1,
        level: 5,
        tsUs: 54928466,
        flags,
        text: "This is message #1",
        dict: { msgid: "1" },
      },
      {
        source: s,
        kind: "extended",
        seq: 160,
        facility: 0,
        level: 7,
        tsUs: 424069,
        flags,
        text: "pci_root PNP0A03:00: host bridge window [io  0x0000-0x0cf7] (ignored)",
        dict: { SUBSYSTEM: "acpi", DEVICE: "+acpi:PNP0A03:00" },
      },
      {
        source: s,
        kind: "extended",
        seq: 1822,
        facility: 1,
        level: 5,
        tsUs: 115075213798,
        flags,
        release: "6.11.1-0_fbk0_rc13_509_g30d75cea12f7",
        text: "netconsole selftest: netcons_gtJHM",
        dict: { key: "value" },
      },
      {
        source: s,
        kind: "legacy",
        text: "[   22.671488] raid6: using algorithm avx2x4 gen() 21138 MB/s",
      },
      {
        source: s,
        kind: "extended",
        seq: 1234,
        facility: 0,
        level: 6,
        tsUs: 5678901234,
        flags,
        release: "6.8.0",
        text: "A".repeat(1200),
        dict: { k: "v", cpu: "3", msgid: "7" },
        fragments: 2,
      },
      {
        source: s,
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
    assert.equal(status, 0);
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
    assert.match(stderr, /2 malformed/);
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
});
