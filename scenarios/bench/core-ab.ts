/**
 * Per-datagram worker cost, this tree's WorkerCore against another checkout's (e.g. the commit
 * before a change, checked out with `git worktree add /tmp/before COMMIT`), side by side in one
 * process: short slices of each alternate, and each slice is timed in CPU time of this thread, so
 * a loaded machine slows both alike. Each side is fed the way its own worker feeds it: this
 * tree through handle(buf, addrAt, addrLen, payloadAt, payloadLen, ...) (address bytes and
 * payload in one buffer, as the ring holds them), the other through whichever handle() form it
 * has (the address as a string when it takes one). 1,000 hosts round-robin, contiguous seqs,
 * stamped 64-byte extended payloads, sink none.
 *
 *   node scenarios/bench/core-ab.ts --before /tmp/before [--slices 40] [--slice-ms 50] [--json FILE]
 */
import { parseArgs } from "node:util";
import { encodeExtended } from "../../blaster/codec.ts";
import { formatStamp } from "../../blaster/stamp.ts";
import { count } from "../format.ts";
import { writeJson } from "../output-files.ts";

const HOSTS = 1000;
const FIRST_SEQ = 1_000_000;
const STAMP_US = 987_654_321_000;

interface AnyCore {
  handle(...args: unknown[]): void;
  counters: { datagrams: number; extended: number };
}

interface Side {
  name: string;
  /** Runs n datagrams; returns nothing (the core's counters prove the work). */
  run(n: number): void;
  core: AnyCore;
  cpuUs: number;
  datagrams: number;
}

async function side(name: string, root: string): Promise<Side> {
  const { WorkerCore } = await import(`${root}/receiver/core.ts`);
  const { createSink } = await import(`${root}/receiver/sinks.ts`);
  const core = new WorkerCore({}, createSink({ kind: "none" }, -1)) as AnyCore;
  // handle(buf, addrAt, addrLen, payloadAt, payloadLen, recvUs, nowUs), or the former
  // handle(source, payload, recvUs, nowUs).
  const bytesForm = core.handle.length >= 7;
  const payload = encodeExtended({
    facility: 0,
    level: 6,
    seq: FIRST_SEQ,
    tsUs: 1,
    text: `${formatStamp(3, STAMP_US)}${"x".repeat(30)}`,
  })[0];
  const seqAt = payload.indexOf(0x2c) + 1;
  const seqWidth = payload.indexOf(0x2c, seqAt) - seqAt;
  const addresses = Array.from(
    { length: HOSTS },
    (_, i) => `::ffff:127.0.${i >> 8}.${(i & 255) + 1}`,
  );
  const records = addresses.map((a) => Buffer.concat([Buffer.from(a, "latin1"), payload]));
  const payloads = addresses.map(() => Buffer.from(payload));
  const next = new Float64Array(HOSTS).fill(FIRST_SEQ);
  let h = 0;
  let nowUs = STAMP_US + 100;
  const run = (n: number) => {
    for (let i = 0; i < n; i++) {
      let seq = next[h]++;
      const addrLen = addresses[h].length;
      const target = bytesForm ? records[h] : payloads[h];
      const at = bytesForm ? addrLen + seqAt : seqAt;
      for (let k = at + seqWidth - 1; k >= at; k--) {
        target[k] = 0x30 + (seq % 10);
        seq = Math.floor(seq / 10);
      }
      if (bytesForm) core.handle(target, 0, addrLen, addrLen, payload.length, nowUs - 5, nowUs);
      else core.handle(addresses[h], target, nowUs - 5, nowUs);
      h = h + 1 === HOSTS ? 0 : h + 1;
      nowUs += 1;
    }
  };
  return { name, run, core, cpuUs: 0, datagrams: 0 };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      before: { type: "string" },
      slices: { type: "string", default: "40" },
      "slice-ms": { type: "string", default: "50" },
      json: { type: "string" },
    },
  });
  if (!values.before) throw new Error("--before DIR: a checkout of the tree to compare with");
  const here = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
  const sides = [await side("before", values.before), await side("after", here)];
  for (const s of sides) s.run(200_000); // warm up both
  for (const s of sides) {
    s.cpuUs = 0;
    s.datagrams = 0;
  }
  const sliceMs = Number(values["slice-ms"]);
  for (let slice = 0; slice < Number(values.slices); slice++) {
    for (const s of slice % 2 === 0 ? sides : [...sides].reverse()) {
      const start = process.cpuUsage();
      const until = performance.now() + sliceMs;
      while (performance.now() < until) {
        s.run(1000);
        s.datagrams += 1000;
      }
      const used = process.cpuUsage(start);
      s.cpuUs += used.user + used.system;
    }
  }
  const figures = sides.map((s) => ({
    side: s.name,
    datagrams: s.datagrams,
    cpuNsPerDatagram: (s.cpuUs * 1000) / s.datagrams,
  }));
  const [before, after] = figures;
  const report = {
    figures,
    afterOverBeforeCpu: after.cpuNsPerDatagram / before.cpuNsPerDatagram,
  };
  for (const f of figures) {
    process.stdout.write(
      `${f.side.padEnd(7)} ${f.cpuNsPerDatagram.toFixed(0)} ns CPU per datagram (${count(f.datagrams)} datagrams)\n`,
    );
  }
  process.stdout.write(
    `after / before CPU per datagram: ${report.afterOverBeforeCpu.toFixed(3)}\n`,
  );
  if (values.json) writeJson(values.json, report);
}

if (import.meta.main) {
  main().catch((error) => {
    process.stderr.write(`netcons-bench: core-ab: ${(error as Error).message}\n`);
    process.exitCode = 1;
  });
}
