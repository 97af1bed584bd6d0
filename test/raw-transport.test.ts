/**
 * The udp-batch and auto transports with real sockets on loopback, and the safety and plan
 * checks of the raw transports (spoofing only towards loopback or a network namespace the
 * user made; IPv4-mapped targets sent as IPv4). Skips with a reason where the native addon,
 * CAP_NET_RAW or `ip netns` is unavailable.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { chooseAuto } from "../blaster/auto-transport.ts";
import { parsePrefix } from "../blaster/raw/address.ts";
import { netnsHolding, spoofingRefusal, wirePlan } from "../blaster/raw/plan.ts";
import { rawRefusal } from "../blaster/raw/raw-transport.ts";
import { loadTransport, type SourcePlan, type TransportOptions } from "../blaster/transport.ts";
import { needs, skipUnless } from "./capabilities.ts";
import { addonSkipReason, ip, listen, rawSkipReason, until } from "./raw-support.ts";

function options(
  address: string,
  port: number,
  sources: SourcePlan,
  hosts = 100,
): TransportOptions {
  const family = address.includes(":") ? 6 : 4;
  return {
    target: { address, port, family },
    sources,
    hosts,
    shardHosts: hosts,
    activeHosts: hosts,
  };
}

describe("wirePlan", () => {
  test("an IPv4-mapped target and prefix go out as IPv4", () => {
    const plan = wirePlan(
      options("::ffff:127.0.0.1", 1514, { kind: "ipv4-mapped", prefix: "::ffff:127.0.0.0/104" }),
    );
    assert.equal(plan.family, 4);
    assert.equal(plan.destination, "127.0.0.1");
    assert.equal(plan.prefix?.text, "127.0.0.0/8");
  });

  test("a prefix of the other family is refused; shared has no prefix", () => {
    assert.throws(
      () => wirePlan(options("::1", 1514, { kind: "ipv6-prefix", prefix: "198.18.0.0/15" })),
      /IPv4 but the target ::1 is IPv6/,
    );
    assert.equal(wirePlan(options("::1", 1514, { kind: "shared" })).prefix, null);
  });
});

describe("spoofing safety", () => {
  test("loopback is fine; another address needs --allow-remote", () => {
    assert.equal(spoofingRefusal("::1", false), null);
    assert.equal(spoofingRefusal("127.0.0.9", false), null);
    assert.match(spoofingRefusal("192.0.2.1", false) ?? "", /--allow-remote/);
    assert.equal(spoofingRefusal("192.0.2.1", true), null);
  });

  test("raw and udp-batch refuse a remote target with spoofed sources before sending anything", {
    skip: skipUnless("addon", addonSkipReason()),
  }, async () => {
    const o = options("192.0.2.1", 1514, { kind: "ipv6-prefix", prefix: "198.18.0.0/15" });
    assert.match(
      rawRefusal(o) ?? "",
      /^--transport raw: spoofed source addresses .* --allow-remote/,
    );
    const udpBatch = await loadTransport("udp-batch");
    assert.match((await udpBatch.check(o)) ?? "", /^--transport udp-batch: spoofed/);
    // Hosts sharing this machine's own address are not spoofing: raw says what it needs instead.
    assert.match(rawRefusal(options("::1", 1514, { kind: "shared" })) ?? "", /--sources PREFIX/);
  });

  test("--gso on is refused by the transports that cannot segment", async () => {
    const o = { ...options("::1", 1514, { kind: "shared" }), gso: "on" as const };
    assert.match(
      (await (await loadTransport("socket")).check(o)) ?? "",
      /^--gso on: --transport socket cannot/,
    );
    assert.match(
      (await (await loadTransport("raw")).check(o)) ?? "",
      /^--gso on: --transport raw cannot/,
    );
  });

  const netnsSkip = skipUnless("root", process.getuid?.() !== 0 ? "ip netns add needs root" : null);
  test("an address inside a network namespace the user made counts as theirs", {
    skip: netnsSkip,
  }, (t) => {
    const ns = `ncb-raw-${process.pid}`;
    try {
      ip("netns", "add", ns);
    } catch (error) {
      needs(
        t,
        "root",
        `cannot create a network namespace: ${(error as Error).message.split("\n")[0]}`,
      );
      return;
    }
    try {
      ip("-n", ns, "link", "set", "lo", "up");
      ip("-n", ns, "addr", "add", "2001:db8:99::1/128", "dev", "lo");
      assert.deepEqual(netnsHolding("2001:db8:99::1"), [ns]);
      assert.deepEqual(netnsHolding("2001:db8:99::2"), []);
      assert.equal(spoofingRefusal("2001:db8:99::1", false), null);
    } finally {
      ip("netns", "del", ns);
    }
    assert.match(spoofingRefusal("2001:db8:99::1", false) ?? "", /--allow-remote/);
  });
});

describe("udp-batch transport", { skip: skipUnless("addon", addonSkipReason()) }, () => {
  const cases: {
    name: string;
    type: "udp4" | "udp6";
    bind: string;
    target: string;
    sources: SourcePlan;
    expect: (h: number) => string;
  }[] = [
    {
      name: "IPv4 loopback sources 127.x.y.z",
      type: "udp4",
      bind: "127.0.0.1",
      target: "127.0.0.1",
      sources: { kind: "ipv4-loopback", prefix: "127.0.0.0/8" },
      expect: (h) => `127.0.${(h + 1) >> 8}.${(h + 1) & 255}`,
    },
    {
      name: "IPv6 prefix sources (IPV6_FREEBIND) to ::1",
      type: "udp6",
      bind: "::1",
      target: "::1",
      sources: { kind: "ipv6-prefix", prefix: "2001:db8:1::/64" },
      expect: (h) => `2001:db8:1::${(h + 1).toString(16)}`,
    },
    {
      name: "IPv4-mapped sources to a dual-stack listener",
      type: "udp6",
      bind: "::",
      target: "::ffff:127.0.0.1",
      sources: { kind: "ipv4-mapped", prefix: "::ffff:127.0.0.0/104" },
      expect: (h) => `::ffff:127.0.${(h + 1) >> 8}.${(h + 1) & 255}`,
    },
    {
      name: "shared source, connected socket",
      type: "udp6",
      bind: "::1",
      target: "::1",
      sources: { kind: "shared" },
      expect: () => "::1",
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const hosts = 300;
      const { socket, port, got } = await listen(c.type, c.bind);
      // Plain sendmmsg batches (test/udp-batch-gso.test.ts covers GSO sends).
      const o = { ...options(c.target, port, c.sources, hosts), gso: "off" as const };
      const mod = await loadTransport("udp-batch");
      assert.equal(await mod.check(o), null);
      const transport = await mod.create(o);
      const total = hosts * 3; // crosses several 256-datagram batches
      for (let i = 0; i < total; i++) {
        const host = i % hosts;
        const payload = Buffer.from(`6,${Math.floor(i / hosts)},0,-;from ${host}\n`);
        transport.send(host, payload, 0, payload.length);
      }
      assert.equal(transport.flush(), undefined);
      await transport.close();
      assert.equal(transport.counters.sent, total);
      assert.equal(transport.counters.errors, 0);
      assert.ok(transport.counters.batches >= 4);
      await until(() => got.length >= total, 2000);
      socket.close();
      assert.equal(got.length, total);
      for (const r of got) {
        const text = r.payload.toString();
        const host = Number(/from (\d+)/.exec(text)![1]);
        assert.equal(r.address, c.expect(host), text);
      }
    });
  }
});

describe("auto transport", () => {
  test("picks socket, saying why, when raw cannot spoof (no source prefix)", () => {
    const choice = chooseAuto(options("::1", 1514, { kind: "shared" }));
    assert.equal(choice.name, "socket");
    assert.match(choice.reason, /^raw unavailable: /);
  });

  test("picks raw where a raw socket opens", {
    skip: skipUnless("raw-sockets", rawSkipReason()),
  }, async () => {
    const o = options("::1", 1514, { kind: "ipv6-prefix", prefix: "2001:db8:1::/64" });
    assert.deepEqual(chooseAuto(o), {
      name: "raw",
      reason: "raw sockets permitted; hosts send from 2001:db8:1::/64 to ::1",
    });
    const created = await (await loadTransport("auto")).create(o);
    assert.equal(created.name, "raw");
    await created.close();
    assert.ok(parsePrefix("2001:db8:1::/64").capacity > 1_000_000);
  });
});
