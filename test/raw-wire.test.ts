/**
 * The raw transport on the wire: what it sends is captured on lo with tcpdump and checked from
 * scratch (IP version, TTL / hop limit, IPv4 header and UDP checksums recomputed here, distinct
 * source addresses exactly as planned, payloads that decode with receiver/decode.ts), and a real
 * UDP socket on ::1 / 127.0.0.1 receives every spoofed-source datagram with its spoofed address.
 * Skips loudly (test/capabilities.ts) when the addon, CAP_NET_RAW or tcpdump is missing.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { encodeExtended } from "../blaster/codec.ts";
import { formatAddress, hostAddress, parsePrefix } from "../blaster/raw/address.ts";
import { DatagramBuilder } from "../blaster/raw/packet.ts";
import { loadTransport, type TransportOptions } from "../blaster/transport.ts";
import { decodePayload } from "../receiver/decode.ts";
import { skipUnless } from "./capabilities.ts";
import {
  listen,
  parseDatagram,
  rawSkipReason,
  startCapture,
  tcpdumpMissing,
  until,
} from "./raw-support.ts";

const skip = skipUnless("raw-sockets", rawSkipReason()) ?? skipUnless("tcpdump", tcpdumpMissing());
const dir = mkdtempSync(join(tmpdir(), "ncb-raw-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A payload for `host` whose UDP checksum computes to 0 (so it must go out as 0xFFFF). */
function zeroChecksumPayload(builder: DatagramBuilder, host: number): Buffer {
  const payload = Buffer.from("6,99,1,-;zero checksum:..\n");
  payload.writeUInt16BE(0, 22);
  const out = new Uint8Array(builder.sizeFor(payload.length));
  builder.write(out, 0, host, payload);
  const at = builder.headerBytes - 2;
  payload.writeUInt16BE((out[at] << 8) | out[at + 1], 22); // adding ~sum makes the sum 0xffff
  return payload;
}

const CASES = [
  { family: 6 as const, prefix: "2001:db8:1::/64", target: "::1", hopLimit: 32 },
  { family: 4 as const, prefix: "198.18.0.0/15", target: "127.0.0.1", hopLimit: 64 },
];

describe("raw transport on the wire", { skip }, () => {
  for (const c of CASES) {
    test(`IPv${c.family}: ${c.prefix} -> ${c.target}, checked in a tcpdump capture and by a real socket`, async () => {
      const hosts = 40;
      const { socket, port, got } = await listen(c.family === 6 ? "udp6" : "udp4", c.target);
      const capture = await startCapture(
        join(dir, `v${c.family}.pcap`),
        `udp and dst port ${port}`,
      );
      const options: TransportOptions = {
        target: { address: c.target, port, family: c.family },
        sources: { kind: "ipv6-prefix", prefix: c.prefix },
        hosts,
        shardHosts: hosts,
        activeHosts: hosts,
      };
      const mod = await loadTransport("raw");
      assert.equal(await mod.check(options), null);
      const transport = await mod.create(options);
      const prefix = parsePrefix(c.prefix);

      // What each host sends: 3 extended messages, host 0's last one long enough to fragment,
      // plus one datagram whose UDP checksum computes to 0.
      const sent: { host: number; payload: Buffer }[] = [];
      for (let seq = 0; seq < 3; seq++) {
        for (let host = 0; host < hosts; host++) {
          const text = host === 0 && seq === 2 ? "x".repeat(1500) : `host ${host} says ${seq}`;
          for (const payload of encodeExtended({
            facility: 0,
            level: 6,
            seq,
            tsUs: 1000 * seq,
            text,
          })) {
            sent.push({ host, payload });
          }
        }
      }
      const zeroHost = 7;
      sent.push({
        host: zeroHost,
        payload: zeroChecksumPayload(
          new DatagramBuilder({ prefix, destination: c.target, destinationPort: port }),
          zeroHost,
        ),
      });
      for (const { host, payload } of sent) transport.send(host, payload, 0, payload.length);
      await transport.flush();
      await transport.close();
      assert.equal(transport.counters.sent, sent.length);
      assert.equal(transport.counters.errors, 0);

      await until(() => got.length >= sent.length, 2000);
      const packets = await capture.stop();
      socket.close();

      // The capture: every datagram, well formed, from the planned source.
      assert.equal(packets.length, sent.length);
      const planned = new Set(Array.from({ length: hosts }, (_, h) => hostAddress(prefix, h)));
      const expected = new Map<string, number>();
      for (const { host, payload } of sent) {
        const key = `${hostAddress(prefix, host)} ${payload.toString("hex")}`;
        expected.set(key, (expected.get(key) ?? 0) + 1);
      }
      const sources = new Set<string>();
      let zeroChecksums = 0;
      let fragments = 0;
      for (const { ip } of packets) {
        const d = parseDatagram(ip);
        assert.equal(d.version, c.family);
        assert.equal(d.hopLimit, c.hopLimit);
        assert.ok(d.ipChecksumOk, "IPv4 header checksum");
        assert.ok(d.udpChecksumOk, `UDP checksum 0x${d.udpChecksum.toString(16)}`);
        assert.equal(d.sourcePort, 6665);
        assert.equal(formatAddress(d.destination), c.target);
        const source = formatAddress(d.source);
        assert.ok(planned.has(source), `unplanned source ${source}`);
        sources.add(source);
        const key = `${source} ${d.payload.toString("hex")}`;
        assert.ok((expected.get(key) ?? 0) > 0, `unexpected datagram from ${source}`);
        expected.set(key, expected.get(key)! - 1);
        const decoded = decodePayload(d.payload);
        assert.equal(decoded.kind, "extended");
        if (decoded.kind === "extended" && decoded.fragment) fragments++;
        if (d.udpChecksum === 0xffff && d.payload.includes("zero checksum")) zeroChecksums++;
      }
      assert.equal(sources.size, hosts);
      assert.equal(zeroChecksums, 1);
      assert.ok(fragments >= 2);

      // The real socket: everything arrived, each with its spoofed source address.
      assert.equal(got.length, sent.length);
      const fromSocket = new Set(got.map((r) => (c.family === 6 ? r.address : r.address)));
      assert.deepEqual([...fromSocket].sort(), [...planned].sort());
      const zero = got.find((r) => r.payload.includes("zero checksum"));
      assert.equal(zero?.address, hostAddress(prefix, zeroHost));
    });
  }
});
