/**
 * External targets measured from outside, with a real child process (test/udp-counter.ts) on
 * real loopback sockets: the runner waits for the port, samples /proc, stops it with SIGTERM,
 * keeps its output and parses its netconsd-style exit statistics.
 */
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  expandTemplate,
  freeUdpPort,
  startExternalTarget,
  TargetError,
} from "../scenarios/external.ts";

const counter = new URL("./udp-counter.ts", import.meta.url).pathname;

test("expandTemplate fills placeholders, quotes odd values, refuses unknown ones", () => {
  assert.equal(
    expandTemplate("nd -l {listeners} -u {port}", { listeners: 2, port: 1514 }),
    "nd -l 2 -u 1514",
  );
  assert.equal(expandTemplate("x {dir}", { dir: "a b'c" }), `x 'a b'\\''c'`);
  assert.throws(
    () => expandTemplate("x {nope}", { port: 1 }),
    /unknown placeholder \{nope\} \(known: \{port\}\)/,
  );
});

test("an external command target: waits for the bind, counts, stops, parses its statistics", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ncb-ext-"));
  const port = await freeUdpPort();
  const logFile = join(dir, "target.log");
  const target = await startExternalTarget({
    command: expandTemplate("{node} {counter} --port {port} --listeners 2 --bind-delay-ms 300", {
      node: process.execPath,
      counter,
      port,
    }),
    port,
    readyTimeoutMs: 10_000,
    stopTimeoutMs: 5_000,
    logFile,
  });
  target.markLoadStart();
  const sender = createSocket("udp4");
  const n = 200;
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve, reject) =>
      sender.send(`6,${i},0,-;hello ${i}`, port, "127.0.0.1", (e) => (e ? reject(e) : resolve())),
    );
  }
  sender.close();
  await new Promise((r) => setTimeout(r, 300));
  const sample = target.sample();
  assert.ok(sample && sample.rssBytes > 0 && sample.sockets === 2, JSON.stringify(sample));
  target.measureLoadEnd();
  const m = await target.stop();
  assert.equal(m.exitCode, 0);
  assert.equal(m.killed, false);
  assert.equal(m.sockets, 2);
  assert.equal(m.socketDrops, 0);
  assert.equal(m.stats?.workerMessages, n, m.outputTail);
  assert.equal(m.stats?.hosts, 1);
  assert.equal(m.stats?.listeners.length, 2);
  assert.ok(
    m.rssPeakBytes >= m.rssFinalBytes && m.rssFinalBytes > 10 << 20,
    `rss ${m.rssFinalBytes}`,
  );
  assert.ok(m.cpuMs >= 0);
  assert.match(
    readFileSync(logFile, "utf8"),
    new RegExp(`Total messages processed by workers: ${n} from 1 hosts`),
  );
});

test("a target that exits before binding, or never binds, is a clear error", async () => {
  const port = await freeUdpPort();
  await assert.rejects(
    startExternalTarget({
      command: "echo no such daemon; exit 3",
      port,
      readyTimeoutMs: 5000,
      stopTimeoutMs: 1000,
    }),
    (e: unknown) =>
      e instanceof TargetError &&
      /exited \(code 3.*before binding port/s.test((e as Error).message) &&
      /no such daemon/.test((e as Error).message),
  );
  await assert.rejects(
    startExternalTarget({ command: "sleep 30", port, readyTimeoutMs: 300, stopTimeoutMs: 1000 }),
    /did not bind UDP port \d+ within 300 ms/,
  );
});
