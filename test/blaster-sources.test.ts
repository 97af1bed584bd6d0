/**
 * Targets and source-address plans (pure): target parsing, which addresses hosts send from for
 * each kind of target, and the refusals.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chooseSources, parseTarget, sourceAddress } from "../blaster/sources.ts";
import type { Endpoint } from "../blaster/transport.ts";

const v4: Endpoint = { address: "127.0.0.1", port: 1514, family: 4 };
const v6: Endpoint = { address: "::1", port: 1514, family: 6 };

describe("targets", () => {
  it("parses [v6]:port, v4:port, names, and bare addresses (port 1514)", () => {
    assert.deepEqual(parseTarget("[::1]:1514"), { host: "::1", port: 1514 });
    assert.deepEqual(parseTarget("127.0.0.1:9"), { host: "127.0.0.1", port: 9 });
    assert.deepEqual(parseTarget("localhost:6666"), { host: "localhost", port: 6666 });
    assert.deepEqual(parseTarget("::ffff:127.0.0.1"), { host: "::ffff:127.0.0.1", port: 1514 });
    assert.deepEqual(parseTarget("10.1.2.3"), { host: "10.1.2.3", port: 1514 });
    for (const bad of ["", "[::1]:0", "127.0.0.1:70000", "not a target", "[::1", "a:b:c"]) {
      assert.equal(parseTarget(bad), null, bad);
    }
  });
});

describe("source plans", () => {
  it("IPv4 loopback target: host i sends from 127.0.0.0 + 1 + i", () => {
    const c = chooseSources("auto", v4, 70_000);
    assert.equal(c.plan.kind, "ipv4-loopback");
    assert.equal(c.note, null);
    assert.equal(sourceAddress(c.plan, 0), "127.0.0.1");
    assert.equal(sourceAddress(c.plan, 255), "127.0.1.0");
    assert.equal(sourceAddress(c.plan, 65_535), "127.1.0.0");
  });

  it("::1 target: hosts appear as ::ffff:127.x.y.z towards the dual-stack side, with a note", () => {
    const c = chooseSources("auto", v6, 10);
    assert.equal(c.plan.kind, "ipv4-mapped");
    assert.deepEqual(c.target, { address: "::ffff:127.0.0.1", port: 1514, family: 6 });
    assert.match(c.note ?? "", /dual-stack listener on \[::\]:1514/);
    assert.equal(sourceAddress(c.plan, 9), "::ffff:127.0.0.10");
    const mapped = chooseSources("auto", { ...v6, address: "::ffff:127.0.0.1" }, 10);
    assert.equal(mapped.note, null);
    assert.equal(mapped.target.address, "::ffff:127.0.0.1");
  });

  it("a user prefix of the target's family; shared; remote targets share by default", () => {
    const p6 = chooseSources("fd00:1::/64", v6, 1000);
    assert.equal(p6.plan.kind, "ipv6-prefix");
    assert.equal(sourceAddress(p6.plan, 0), "fd00:1::1");
    assert.equal(sourceAddress(p6.plan, 0xffff), "fd00:1::1:0");
    const p4 = chooseSources("127.8.0.0/16", v4, 100);
    assert.equal(p4.plan.kind, "ipv4-prefix");
    assert.equal(sourceAddress(p4.plan, 1), "127.8.0.2");
    assert.throws(() => chooseSources("10.0.0.0/8", v6, 1), /IPv4 but the target/);
    assert.throws(() => chooseSources("127.8.0.0/24", v4, 300), /does not fit/);
    const shared = chooseSources("shared", v4, 5);
    assert.equal(shared.plan.kind, "shared");
    assert.equal(sourceAddress(shared.plan, 3), null);
    const remote = chooseSources("auto", { address: "192.0.2.1", port: 1514, family: 4 }, 5);
    assert.equal(remote.plan.kind, "shared");
    assert.match(remote.note ?? "", /--sources PREFIX/);
  });

  it("refuses more hosts than 127.0.0.0/8 holds", () => {
    assert.throws(() => chooseSources("auto", v4, 2 ** 24), /does not fit the 127\.0\.0\.0\/8/);
  });
});
