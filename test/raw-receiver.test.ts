/**
 * End to end with our receiver: datagrams from spoofed raw sources count as distinct hosts
 * and spread over the receiver's workers (which pick a worker by hashing the source address,
 * as netconsd does). Skips where the native addon or CAP_NET_RAW is missing.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeExtended } from "../blaster/codec.ts";
import { loadTransport } from "../blaster/transport.ts";
import { startReceiver } from "../receiver/receive.ts";
import { skipUnless } from "./capabilities.ts";
import { rawSkipReason } from "./raw-support.ts";

test("the receiver sees spoofed raw sources as distinct hosts spread over its workers", {
  skip: skipUnless("raw-sockets", rawSkipReason()),
}, async () => {
  const receiver = await startReceiver({
    bind: "::1",
    port: 0,
    workers: 2,
    rcvbuf: 4 << 20,
    interval: "100ms",
  });
  const hosts = 64;
  const perHost = 5;
  let report: Awaited<ReturnType<typeof receiver.stop>>;
  try {
    const options = {
      target: { address: "::1", port: receiver.port, family: 6 as const },
      sources: { kind: "ipv6-prefix" as const, prefix: "2001:db8:1::/64" },
      hosts,
      shardHosts: hosts,
      activeHosts: hosts,
    };
    const raw = await loadTransport("raw");
    assert.equal(await raw.check(options), null);
    const transport = await raw.create(options);
    for (let seq = 0; seq < perHost; seq++) {
      for (let host = 0; host < hosts; host++) {
        const [payload] = encodeExtended({
          facility: 0,
          level: 6,
          seq,
          tsUs: seq,
          text: `host ${host}`,
        });
        transport.send(host, payload, 0, payload.length);
      }
    }
    await transport.flush();
    await transport.close();
    assert.equal(transport.counters.sent, hosts * perHost);
    const end = Date.now() + 3000;
    while (receiver.snapshot().packets.received < hosts * perHost && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    report = await receiver.stop("test done");
  }
  assert.equal(report.packets.received, hosts * perHost);
  assert.equal(report.messages.extended, hosts * perHost);
  assert.equal(report.hosts, hosts);
  assert.equal(report.sequence.missing, 0);
  assert.equal(report.perWorker.length, 2);
  assert.equal(
    report.perWorker.reduce((a, w) => a + w.hosts, 0),
    hosts,
  );
  for (const w of report.perWorker) assert.ok(w.hosts > 0, `worker ${w.index} got no host`);
});
