import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { CORE_COUNTERS, WorkerCore } from "../receiver/core.ts";
import { type DecodedExtended, decodePayload } from "../receiver/decode.ts";
import { createSink, type OutputSpec, openOutput, type Sink } from "../receiver/sinks.ts";

const b = (s: string) => Buffer.from(s, "latin1");
const none = () => createSink({ kind: "none" }, -1);

/** A ring-like record: address text then payload in one buffer, as the worker reads them. */
function record(address: string, payload: Buffer, pad = 7) {
  const buf = Buffer.alloc(pad + address.length + payload.length + pad, 0x3b);
  buf.write(address, pad, "latin1");
  payload.copy(buf, pad + address.length);
  return { buf, addrAt: pad, addrLen: address.length, payloadAt: pad + address.length };
}

function feed(core: WorkerCore, address: string, payload: Buffer, nowUs = 1000) {
  const r = record(address, payload);
  core.handle(r.buf, r.addrAt, r.addrLen, r.payloadAt, payload.length, nowUs, nowUs);
}

describe("WorkerCore under hostile input", () => {
  it("returns at once from `first` then an emergency jump to 2^53 - 1 from the same source", () => {
    // Before: the worker walked the gap one seq at a time, forever (100% CPU, no exit).
    const core = new WorkerCore({}, none());
    feed(core, "127.0.0.5", b("6,1,0,-;first\n"));
    feed(core, "127.0.0.5", b("6,9007199254740991,0,-,ncemg=1;jump\n"));
    assert.equal(core.counters.extended, 2);
    assert.equal(core.sequence.counters.emergency, 1);
    assert.equal(core.sequence.totals().missing, 9007199254740991 - 2);
  });

  it("counts fragment-only sources as hosts: --max-hosts bounds them and their fragment bytes", () => {
    // Before: each first fragment held its declared 8192 bytes, outside --max-hosts (300,000
    // sources x ncfrag=0/8192 with --max-hosts 1000 reached 2.56 GB).
    const maxHosts = 1000;
    const core = new WorkerCore({ sequence: { maxHosts } }, none());
    const fragment = b("6,1,1,-,ncfrag=0/8192;0123456789abcdef");
    for (let i = 0; i < 300_000; i++) {
      feed(core, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, fragment, 1000 + i);
    }
    assert.equal(core.sequence.counters.hosts, 300_000);
    assert.equal(core.sequence.size, maxHosts);
    assert.equal(core.reassembler.sourceCount, maxHosts);
    assert.equal(core.reassembler.pending, maxHosts);
    assert.equal(core.reassembler.counters.incomplete, 300_000 - maxHosts, "evicted with its host");
    assert.ok(core.reassembler.heldBytes <= maxHosts * 512, `${core.reassembler.heldBytes} held`);
  });

  it("forgets an idle host's fragments with the host (--host-idle)", () => {
    const core = new WorkerCore(
      { sequence: { hostIdleMs: 100 }, fragmentTimeoutMs: 60_000 },
      none(),
    );
    feed(core, "::1", b("6,1,1,-,ncfrag=0/100;part"), 0);
    assert.equal(core.reassembler.pending, 1);
    core.tick(99);
    assert.equal(core.reassembler.pending, 1);
    core.tick(100);
    assert.equal(core.sequence.size, 0);
    assert.equal(core.reassembler.pending, 0);
    assert.equal(core.reassembler.counters.incomplete, 1);
  });

  it("the address as bytes (the ring's form) and as text agree", () => {
    const payloads = [
      b("6,1,1,-;ncb1:1:5 a\n"),
      b("6,3,1,-;b\n"),
      b("[ 1.000000] ncb1:2:6 legacy"),
      b("6,2,1,-,ncfrag=0/4;ab"),
      b("6,2,1,-,ncfrag=2/4;c\n"),
      b(""),
      b("6,3,1,-;dup\n"),
    ];
    const figures = (core: WorkerCore) => ({
      counters: { ...core.counters },
      sequence: core.sequence.totals(),
      reassembly: { ...core.reassembler.counters },
    });
    const a = new WorkerCore({}, none());
    const t = new WorkerCore({}, none());
    for (const [i, p] of payloads.entries()) {
      for (const host of ["127.0.0.1", "::ffff:127.0.0.2"]) {
        feed(a, host, p, 10 + i);
        t.handleText(host, p, 10 + i, 10 + i);
      }
    }
    assert.deepEqual(figures(a), figures(t));
    const c = a.counters;
    assert.deepEqual(
      [c.datagrams, c.malformed, c.legacy, c.fragments, c.extended, c.duplicates, c.stamped],
      [14, 2, 2, 4, 6, 2, 4],
    );
    assert.equal(a.sequence.counters.hosts, 2);
    assert.ok(CORE_COUNTERS.includes("nulTerminated"));
  });
});

describe("the kernel's NUL terminator", () => {
  // Release prefix + header + text padded so the record is exactly 1000 bytes, the last a NUL.
  const head = "6.8.0,6,7,100,-;";
  const text = "x".repeat(1000 - head.length - 1);
  const payload = Buffer.concat([b(head + text), Buffer.from([0])]);

  it("is not part of the text, and the receiver counts how often it came", () => {
    assert.equal(payload.length, 1000);
    const d = decodePayload(payload) as DecodedExtended;
    assert.equal(d.text?.toString("latin1"), text, "no NUL at the end of the text");
    assert.equal(d.kernelNul, true);
    const core = new WorkerCore({}, none());
    feed(core, "127.0.0.1", payload);
    assert.equal(core.counters.nulTerminated, 1);
    // Not a terminator elsewhere: a 999-byte record keeps its NUL, as does one without release.
    const short = decodePayload(payload.subarray(1)) as DecodedExtended;
    assert.equal(short.text?.at(-1), 0);
  });
});

/** Runs one message through a real sink into a real file and returns the file's text. */
function throughSink(spec: OutputSpec, text: Buffer, dir: string): string {
  const output = openOutput(spec);
  const core = new WorkerCore({}, createSink(spec, spec.kind === "print" ? output.fd : output.fd));
  feed(core, "127.0.0.9", Buffer.concat([b("6,1,1,-;"), text, b("\n")]));
  feed(core, "127.0.0.9", b("6,2,1,-;next\n"));
  core.finish(10);
  output.close();
  if (spec.kind === "jsonl") return readFileSync(spec.file, "utf8");
  const files = readdirSync(dir);
  return readFileSync(join(dir, files[0]), "utf8");
}

describe("sinks: one message, one line", () => {
  // The kernel escapes these as \xNN; decoded, they are the raw bytes a forger wants to reach a
  // terminal or a log file: LF that starts a fake line, ANSI colour and clear-screen, NUL, CR, C1 CSI.
  const hostile = b(
    "real\\x0a127.0.0.1 S99 T1 F0/L6 forged\\x1b[31m red\\x1b[2J\\x00nul\\x0dcr\\xc2\\x9b2J",
  );
  const dir = mkdtempSync(join(tmpdir(), "ncb-sink-"));

  it("dir: lines show control characters as \\xNN", () => {
    const path = join(dir, "logs");
    const out = throughSink({ kind: "dir", path }, hostile, path);
    const lines = out.split("\n").filter(Boolean);
    assert.equal(lines.length, 2, out);
    assert.doesNotMatch(out, /[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    assert.match(
      lines[0],
      /real\\x0a127\.0\.0\.1 S99 .*forged\\x1b\[31m red\\x1b\[2J\\x00nul\\x0dcr\\x9b2J$/,
    );
  });

  it("print: the same escaping on the printed line", () => {
    const file = join(dir, "printed.txt");
    const fd = openSync(file, "w");
    const sink = createSink({ kind: "print" }, fd);
    const core = new WorkerCore({}, sink);
    feed(core, "127.0.0.9", Buffer.concat([b("6,1,1,-;"), hostile, b("\n")]));
    core.finish(1);
    closeSync(fd);
    const out = readFileSync(file, "utf8");
    assert.equal(out.split("\n").length, 2, out);
    assert.doesNotMatch(out.slice(0, -1), /[\x00-\x1f\x7f-\x9f]/);
  });

  it("jsonl: one JSON object per line, control characters as \\uXXXX", () => {
    const file = join(dir, "m.jsonl");
    const out = throughSink({ kind: "jsonl", file }, hostile, dir);
    const lines = out.split("\n").filter(Boolean);
    assert.equal(lines.length, 2);
    assert.doesNotMatch(out.replace(/\n/g, ""), /[\x00-\x1f\x7f-\x9f]/);
    assert.match(JSON.parse(lines[0]).text, /^real\n127\.0\.0\.1 S99 .*\x1b\[2J\x00nul\rcr\x9b2J$/);
  });
});

describe("a sink that cannot write", () => {
  it("keeps EPIPE as sinkError, writes nothing more and never throws", () => {
    // A real pipe (a FIFO) whose reader went away.
    const fifo = join(mkdtempSync(join(tmpdir(), "ncb-sink-")), "pipe");
    execFileSync("mkfifo", [fifo]);
    const readerFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const fd = openSync(fifo, constants.O_WRONLY);
    closeSync(readerFd);
    const sink: Sink = createSink({ kind: "print" }, fd);
    const core = new WorkerCore({}, sink);
    assert.equal(core.sinkError, null);
    for (let seq = 1; seq <= 3; seq++) feed(core, "127.0.0.1", b(`6,${seq},1,-;line ${seq}\n`));
    core.tick(1);
    assert.equal(core.sinkError, "EPIPE: the reader of stdout went away");
    for (let seq = 4; seq <= 6; seq++) feed(core, "127.0.0.1", b(`6,${seq},1,-;line ${seq}\n`));
    core.finish(2);
    assert.equal(core.counters.extended, 6, "messages still count as received");
    closeSync(fd);
  });

  it("keeps a dir: sink's open failure as sinkError", () => {
    const path = join(mkdtempSync(join(tmpdir(), "ncb-sink-")), "missing", "deeper");
    const core = new WorkerCore({}, createSink({ kind: "dir", path }, -1));
    feed(core, "127.0.0.1", b("6,1,1,-;x\n"));
    core.finish(1);
    assert.match(core.sinkError ?? "", /^ENOENT writing .*127\.0\.0\.1\.log/);
  });
});
