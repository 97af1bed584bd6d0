/**
 * UDP GSO in the udp-batch transport: the same datagrams sent once with `gso: "off"` (one
 * sendmmsg entry each) and once with `gso: "on"` (equal-size neighbours of one source joined into
 * UDP_SEGMENT sends) are the same datagrams on the wire (captured on lo with tcpdump: addresses,
 * destination port and every datagram's payload bytes, in order) and arrive at a real socket as
 * exactly the same datagrams (payload and source address, in order). With per-host sources only a
 * host's own neighbours join; with a shared source any equal-size neighbours do.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { loadTransport, type SourcePlan, type TransportOptions } from "../blaster/transport.ts";
import { skipUnless } from "./capabilities.ts";
import {
  addonSkipReason,
  listen,
  parseDatagram,
  type Received,
  startCapture,
  tcpdumpMissing,
  until,
} from "./raw-support.ts";

const dir = mkdtempSync(join(tmpdir(), "ncb-gso-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The traffic: runs of one host with equal sizes (which join), size changes inside a run and
 * host changes (which end a GSO send), and a run longer than one GSO send may carry (64).
 */
function traffic(): { host: number; payload: Buffer }[] {
  const out: { host: number; payload: Buffer }[] = [];
  const runs: [host: number, count: number, bytes: number][] = [
    [0, 5, 64],
    [1, 3, 64],
    [1, 2, 200],
    [2, 1, 64],
    [0, 70, 100],
    [3, 4, 900],
    [3, 1, 64],
  ];
  let n = 0;
  for (const [host, count, bytes] of runs) {
    for (let i = 0; i < count; i++, n++) {
      const head = `6,${n},${1000 + n},-;host ${host} datagram ${n} `;
      out.push({ host, payload: Buffer.from(head.padEnd(bytes - 1, "x") + "\n") });
    }
  }
  return out;
}

const CASES: { name: string; type: "udp4" | "udp6"; target: string; sources: SourcePlan }[] = [
  {
    name: "per-host sources 127.x.y.z (only a host's own neighbours join)",
    type: "udp4",
    target: "127.0.0.1",
    sources: { kind: "ipv4-loopback", prefix: "127.0.0.0/8" },
  },
  {
    name: "shared source ::1 (any equal-size neighbours join)",
    type: "udp6",
    target: "::1",
    sources: { kind: "shared" },
  },
];

const skip = skipUnless("addon", addonSkipReason()) ?? skipUnless("tcpdump", tcpdumpMissing());

describe("udp-batch with UDP GSO", { skip }, () => {
  for (const c of CASES) {
    test(`${c.name}: the same datagrams on the wire and at the receiver as without GSO`, async (t) => {
      const datagrams = traffic();
      const runs: Record<
        "off" | "on",
        { wire: Buffer[][]; got: Received[]; counters: Record<string, number> }
      > = {} as never;
      for (const gso of ["off", "on"] as const) {
        const { socket, port, got } = await listen(c.type, c.target);
        const capture = await startCapture(
          join(dir, `${c.type}-${gso}.pcap`),
          `udp and dst port ${port}`,
        );
        const options: TransportOptions = {
          target: { address: c.target, port, family: c.type === "udp6" ? 6 : 4 },
          sources: c.sources,
          hosts: 4,
          shardHosts: 4,
          activeHosts: 4,
          gso,
        };
        const mod = await loadTransport("udp-batch");
        assert.equal(await mod.check(options), null);
        const transport = await mod.create(options);
        // One buffer with the datagrams end to end, as the engine's slab holds them.
        const slab = Buffer.concat(datagrams.map((d) => d.payload));
        let at = 0;
        for (const d of datagrams) {
          transport.send(d.host, slab, at, d.payload.length);
          at += d.payload.length;
        }
        transport.flush();
        await until(() => got.length >= datagrams.length, 3000);
        const packets = await capture.stop();
        await transport.close();
        socket.close();
        // Each captured packet as [source, destination + port, payload]: a GSO send may show on lo
        // as one packet that carries several datagrams back to back (the kernel splits it later).
        const wire = packets.map((p) => {
          const d = parseDatagram(p.ip);
          const to = Buffer.alloc(2);
          to.writeUInt16BE(d.destinationPort);
          return [Buffer.from(d.source), Buffer.concat([d.destination, to]), d.payload];
        });
        runs[gso] = { wire, got, counters: { ...transport.counters } };
      }
      const { off, on } = runs;
      assert.equal(off.counters.sent, datagrams.length);
      assert.equal(on.counters.sent, datagrams.length);
      assert.equal(off.counters.gsoSends, 0);
      assert.ok(on.counters.gsoSends > 0, "no GSO send was made");
      assert.ok(on.counters.gsoSends < on.counters.gsoDatagrams);

      // At the receiver: exactly the same datagrams, same source addresses, same order.
      assert.equal(off.got.length, datagrams.length);
      assert.deepEqual(
        on.got.map((r) => [r.address, r.payload.toString("latin1")]),
        off.got.map((r) => [r.address, r.payload.toString("latin1")]),
      );
      for (const [i, d] of datagrams.entries()) assert.ok(off.got[i].payload.equals(d.payload));

      // On the wire: the plain run is one packet per datagram; the GSO run's packets, cut where
      // the plain run's datagrams end, give the same datagrams with the same addresses (ports
      // aside: each run has its own socket and port).
      assert.equal(off.wire.length, datagrams.length);
      let i = 0;
      for (const [source, destination, payload] of on.wire) {
        let at = 0;
        while (at < payload.length) {
          const [plainSource, plainDestination, plainPayload] = off.wire[i];
          assert.ok(source.equals(plainSource), `datagram ${i}: source address`);
          assert.equal(destination.length, plainDestination.length);
          assert.ok(
            destination.subarray(0, -2).equals(plainDestination.subarray(0, -2)),
            `datagram ${i}: destination address`,
          );
          assert.ok(
            payload.subarray(at, at + plainPayload.length).equals(plainPayload),
            `datagram ${i}: payload bytes`,
          );
          at += plainPayload.length;
          i++;
        }
      }
      assert.equal(i, datagrams.length);
      t.diagnostic(
        `${datagrams.length} datagrams: ${off.wire.length} packets on lo without GSO, ${on.wire.length} with (${on.counters.gsoSends} GSO sends)`,
      );
    });
  }
});
