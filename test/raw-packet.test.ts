/**
 * Pure tests of the raw transport's packet building: checksums against known vectors (RFC 1071,
 * and datagrams the Linux kernel sent on loopback with the checksums tcpdump computed for them),
 * header fields, source-address plans, and a property check against a deliberately naive
 * checksum written here independently of blaster/raw/checksum.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  checkCapacity,
  formatAddress,
  hostAddress,
  isLoopback,
  parseAddress,
  parsePrefix,
} from "../blaster/raw/address.ts";
import { DatagramBatch } from "../blaster/raw/batch.ts";
import { finishUdp, internetChecksum, sumWords } from "../blaster/raw/checksum.ts";
import { DatagramBuilder } from "../blaster/raw/packet.ts";
import { naiveSum } from "./raw-support.ts";

function u16(n: number): Uint8Array {
  return Uint8Array.of(n >> 8, n & 0xff);
}

/** True when the UDP checksum of an IP datagram (v4 or v6) verifies. */
function udpChecksumOk(d: Uint8Array): boolean {
  const v6 = d[0] >> 4 === 6;
  const ipLen = v6 ? 40 : (d[0] & 0xf) * 4;
  const src = v6 ? d.subarray(8, 24) : d.subarray(12, 16);
  const dst = v6 ? d.subarray(24, 40) : d.subarray(16, 20);
  const udp = d.subarray(ipLen);
  const udpLen = (udp[4] << 8) | udp[5];
  return naiveSum(src, dst, u16(17), u16(udpLen), udp.subarray(0, udpLen)) === 0xffff;
}

describe("Internet checksum", () => {
  test("RFC 1071 example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2", () => {
    const bytes = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
    assert.equal(internetChecksum(bytes), ~0xddf2 & 0xffff);
    // Odd length: the last byte is the high byte of a zero-padded word.
    assert.equal(sumWords(Uint8Array.of(0x12, 0x34, 0x56), 0, 3), 0x1234 + 0x5600);
  });

  test("an IPv4 header the kernel sent verifies to 0", () => {
    const header = Buffer.from(
      "45000032eb17400040115 1a17f0000017f000001".replaceAll(" ", ""),
      "hex",
    );
    assert.equal(internetChecksum(header), 0);
  });

  test("a computed UDP checksum of 0 goes out as 0xFFFF", () => {
    assert.equal(finishUdp(0xffff), 0xffff);
    assert.equal(finishUdp(0x1_fffe), 0xffff); // folds to 0xffff: the complement would be 0
    assert.equal(finishUdp(0x1234), ~0x1234 & 0xffff);
  });

  test("long sums fold with carries beyond 32 bits", () => {
    const bytes = new Uint8Array(70_000).fill(0xff);
    assert.equal(internetChecksum(bytes), 0);
    assert.equal(internetChecksum(bytes), ~naiveSum(bytes) & 0xffff);
  });
});

describe("addresses and prefixes", () => {
  test("parse and format IPv6 and IPv4", () => {
    assert.equal(formatAddress(parseAddress("2001:db8:1::5")!), "2001:db8:1::5");
    assert.equal(formatAddress(parseAddress("::ffff:127.0.0.1")!), "::ffff:7f00:1");
    assert.equal(formatAddress(parseAddress("198.18.0.1")!), "198.18.0.1");
    assert.equal(parseAddress("2001:db8::g"), null);
    assert.equal(parseAddress("300.1.1.1"), null);
  });

  test("host i is prefix + 1 + i, host bits beyond 32 included", () => {
    const p = parsePrefix("2001:db8:1::/64");
    assert.equal(p.text, "2001:db8:1::/64");
    assert.equal(hostAddress(p, 0), "2001:db8:1::1");
    assert.equal(hostAddress(p, 65_535), "2001:db8:1::1:0");
    assert.equal(hostAddress(p, 2 ** 32 - 1), "2001:db8:1::1:0:0");
    assert.equal(hostAddress(p, 2 ** 40), "2001:db8:1::100:0:1");
    const v4 = parsePrefix("198.18.0.0/15");
    assert.equal(v4.capacity, 2 ** 17 - 2);
    assert.equal(hostAddress(v4, 0), "198.18.0.1");
    assert.equal(hostAddress(v4, 256), "198.18.1.1");
    assert.equal(hostAddress(v4, v4.capacity - 1), "198.19.255.254");
  });

  test("host bits in the given address are cleared; bad prefixes and overfull plans are refused", () => {
    assert.equal(parsePrefix("10.1.2.3/8").text, "10.0.0.0/8");
    assert.throws(() => parsePrefix("2001:db8::"), /ADDRESS\/LENGTH/);
    assert.throws(() => parsePrefix("2001:db8::/127"), /at most 126/);
    assert.throws(
      () => checkCapacity(parsePrefix("198.18.0.0/24"), 255),
      /holds 254 host addresses/,
    );
    checkCapacity(parsePrefix("198.18.0.0/24"), 254);
    checkCapacity(parsePrefix("2001:db8:1::/64"), 2 ** 53 - 1);
  });

  test("loopback recognition", () => {
    for (const a of ["::1", "127.0.0.1", "127.9.8.7", "::ffff:127.0.0.1"])
      assert.ok(isLoopback(a), a);
    for (const a of ["::", "::2", "10.0.0.1", "2001:db8::1", "nonsense"])
      assert.ok(!isLoopback(a), a);
  });
});

describe("DatagramBuilder", () => {
  test("IPv6: reproduces the UDP checksum tcpdump computed for a kernel-sent datagram", () => {
    // ::1.6665 > ::1.7777, payload below: tcpdump gave 0x8082 (lo leaves a partial checksum).
    const payload = Buffer.from("6,1,2,-;hello netconsole\n");
    const b = new DatagramBuilder({
      prefix: parsePrefix("::/126"),
      destination: "::1",
      destinationPort: 7777,
      sourcePort: 6665,
    });
    const out = new Uint8Array(b.sizeFor(payload.length));
    assert.equal(b.write(out, 0, 0, payload), 48 + 25); // host 0 = ::1
    const d = Buffer.from(out);
    assert.equal(d.toString("hex", 0, 8), "6000000000211120"); // v6, len 33, UDP, hop limit 32
    assert.equal(formatAddress(d.subarray(8, 24)), "::1");
    assert.equal(formatAddress(d.subarray(24, 40)), "::1");
    assert.equal(d.toString("hex", 40, 48), "1a091e6100218082");
    assert.deepEqual(d.subarray(48), payload);
  });

  test("IPv4: header and UDP checksums match the kernel's for the same datagram", () => {
    // 127.0.0.1.6665 > 127.0.0.1.7777: kernel IP checksum 0x51a1 with id 0xeb17 and DF set;
    // ours has DF clear (netpoll's choice), so the expected IP checksum is 0x51a1 + 0x4000.
    const payload = Buffer.from("13,434,54928466,-;odd!");
    const b = new DatagramBuilder({
      prefix: parsePrefix("127.0.0.0/8"),
      destination: "127.0.0.1",
      destinationPort: 7777,
    });
    const out = Buffer.alloc(b.sizeFor(payload.length) * 2);
    // The IP id counts up from 0: skip to the kernel's id by writing 0xeb17 datagrams first.
    for (let i = 0; i < 0xeb17; i++) b.write(out, 0, 0, payload);
    const n = b.write(out, 0, 0, payload);
    assert.equal(n, 20 + 8 + 22);
    assert.equal(out.toString("hex", 0, 20), "45000032eb1700004011" + "91a1" + "7f0000017f000001");
    assert.equal(out.toString("hex", 20, 28), "1a091e61001e3ae0");
    assert.equal(internetChecksum(out, 0, 20), 0);
  });

  test("a payload whose checksum computes to 0 gets 0xFFFF", () => {
    const b = new DatagramBuilder({
      prefix: parsePrefix("2001:db8:1::/64"),
      destination: "::1",
      destinationPort: 1514,
    });
    const payload = Buffer.from("13,1,1,-;adjust:\0\0\n\0");
    const out = new Uint8Array(b.sizeFor(payload.length));
    b.write(out, 0, 7, payload);
    // Choose the two adjustable bytes so that the ones' complement sum is 0xffff exactly.
    // Adding the complement of the sum (the checksum just written) makes the total 0xffff.
    payload.writeUInt16BE((out[46] << 8) | out[47], 16);
    b.write(out, 0, 7, payload);
    assert.equal((out[46] << 8) | out[47], 0xffff);
    assert.ok(udpChecksumOk(out));
  });

  test("property: any payload, host and family gives verifying checksums and the planned source", () => {
    const v6 = parsePrefix("2001:db8:1::/64");
    const v4 = parsePrefix("198.18.0.0/15");
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.integer({ min: 0, max: v4.capacity - 1 }),
        fc.uint8Array({ minLength: 0, maxLength: 1100 }),
        fc.integer({ min: 1, max: 65535 }),
        (six, host, payload, port) => {
          const b = new DatagramBuilder({
            prefix: six ? v6 : v4,
            destination: six ? "::1" : "127.0.0.1",
            destinationPort: port,
          });
          const out = new Uint8Array(b.sizeFor(payload.length) + 3);
          const n = b.write(out, 3, host, payload);
          const d = out.subarray(3, 3 + n);
          assert.ok(udpChecksumOk(d));
          if (six) {
            assert.equal(formatAddress(d.subarray(8, 24)), hostAddress(v6, host));
            assert.equal(d[7], 32);
          } else {
            assert.equal(internetChecksum(d, 0, 20), 0);
            assert.equal(formatAddress(d.subarray(12, 16)), hostAddress(v4, host));
            assert.equal(d[8], 64);
            assert.equal((d[2] << 8) | d[3], n);
          }
          assert.deepEqual(d.subarray(b.headerBytes), payload);
        },
      ),
      { numRuns: 300, seed: 7 },
    );
  });

  test("mixed families and bad ports are refused", () => {
    assert.throws(
      () =>
        new DatagramBuilder({
          prefix: parsePrefix("198.18.0.0/15"),
          destination: "::1",
          destinationPort: 1,
        }),
      /IPv4 but destination ::1 is IPv6/,
    );
    assert.throws(
      () =>
        new DatagramBuilder({
          prefix: parsePrefix("::/64"),
          destination: "::1",
          destinationPort: 0,
        }),
      /destination port/,
    );
  });
});

describe("DatagramBatch", () => {
  test("records aligned offsets and refuses what does not fit", () => {
    const batch = new DatagramBatch(3, 64);
    assert.ok(batch.fits(20));
    batch.commit(20);
    batch.commit(9);
    assert.deepEqual([...batch.offsets.subarray(0, 2)], [0, 24]);
    assert.deepEqual([...batch.lengths.subarray(0, 2)], [20, 9]);
    assert.equal(batch.used, 40);
    assert.ok(!batch.fits(25));
    assert.ok(batch.fits(24));
    batch.commit(24);
    assert.ok(!batch.fits(1)); // count at capacity
    batch.clear();
    assert.equal(batch.count, 0);
    assert.ok(batch.fits(64));
  });
});
