/**
 * The target endpoint and the source address of every simulated host.
 *
 * netconsd keeps one state per source address and picks its worker by hashing the address, so
 * hosts must appear with distinct addresses. Without privileges, Linux lets any process bind
 * any address of 127.0.0.0/8; towards a dual-stack IPv6 listener (netconsd's default `::`)
 * the same addresses appear as `::ffff:127.x.y.z`. Host i sends from `prefix + 1 + i`.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { hostAddress, isLoopback, parsePrefix, type SourcePrefix } from "./raw/address.ts";
import type { Endpoint, SourcePlan } from "./transport.ts";

export const DEFAULT_TARGET = "[::1]:1514";
export const DEFAULT_PORT = 1514;

const IPV4_LOOPBACK = "127.0.0.0/8";
const IPV4_MAPPED_LOOPBACK = "::ffff:127.0.0.0/104";

/** `[v6]:port`, `v4:port`, `host:port`, or an address alone (port 1514). Null when malformed. */
export function parseTarget(text: string): { host: string; port: number } | null {
  const s = text.trim();
  let host: string;
  let port = String(DEFAULT_PORT);
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket) {
    host = bracket[1];
    if (bracket[2] !== undefined) port = bracket[2];
  } else if (isIP(s) === 6) {
    host = s;
  } else {
    const m = /^([A-Za-z0-9.-]+)(?::(\d+))?$/.exec(s);
    if (!m) return null;
    host = m[1];
    if (m[2] !== undefined) port = m[2];
  }
  const n = Number(port);
  if (!Number.isInteger(n) || n < 1 || n > 65535 || host === "") return null;
  return { host, port: n };
}

/** Resolves a parsed target to a numeric endpoint (names through the system resolver). */
export async function resolveTarget(target: { host: string; port: number }): Promise<Endpoint> {
  const family = isIP(target.host);
  if (family !== 0) {
    return { address: target.host, port: target.port, family: family as 4 | 6 };
  }
  const found = await lookup(target.host);
  return { address: found.address, port: target.port, family: found.family as 4 | 6 };
}

export function formatEndpoint(e: Endpoint): string {
  return e.family === 6 ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

export function isLoopbackEndpoint(e: Endpoint): boolean {
  return isLoopback(e.address);
}

export interface SourceChoice {
  plan: SourcePlan;
  /** The endpoint datagrams go to (the `::1` target is reached as `::ffff:127.0.0.1`). */
  target: Endpoint;
  /** What the user should know about the choice (printed once), or null. */
  note: string | null;
}

/**
 * Chooses where hosts send from. `spec` is `auto`, `shared`, or a prefix `ADDRESS/LENGTH`.
 * Throws an Error with a one-line reason when the choice cannot work.
 */
export function chooseSources(spec: string, target: Endpoint, hosts: number): SourceChoice {
  if (spec === "shared") {
    return {
      plan: { kind: "shared" },
      target,
      note:
        hosts > 1
          ? "--sources shared: every host sends from the same address (its own port), so netconsd sees one host"
          : null,
    };
  }
  if (spec !== "auto") {
    const prefix = parsePrefix(spec);
    checkPrefix(prefix, hosts);
    if (prefix.family !== target.family) {
      throw new Error(
        `--sources ${spec} is IPv${prefix.family} but the target ${formatEndpoint(target)} is IPv${target.family}`,
      );
    }
    const kind = prefix.family === 6 ? "ipv6-prefix" : "ipv4-prefix";
    return { plan: { kind, prefix: prefix.text }, target, note: null };
  }
  if (!isLoopback(target.address)) {
    return {
      plan: { kind: "shared" },
      target,
      note:
        hosts > 1
          ? "remote target: hosts share this machine's address (give --sources PREFIX for distinct ones)"
          : null,
    };
  }
  if (target.family === 4) {
    checkPrefix(parsePrefix(IPV4_LOOPBACK), hosts);
    return { plan: { kind: "ipv4-loopback", prefix: IPV4_LOOPBACK }, target, note: null };
  }
  checkPrefix(parsePrefix(IPV4_MAPPED_LOOPBACK), hosts);
  const plan: SourcePlan = { kind: "ipv4-mapped", prefix: IPV4_MAPPED_LOOPBACK };
  if (target.address.toLowerCase().startsWith("::ffff:")) return { plan, target, note: null };
  // ::1 is the only IPv6 loopback address an unprivileged process can bind, so distinct hosts
  // reach a dual-stack listener (netconsd's `::`) through its IPv4-mapped side instead.
  const mapped: Endpoint = { address: "::ffff:127.0.0.1", port: target.port, family: 6 };
  return {
    plan,
    target: mapped,
    note: `target ${formatEndpoint(target)}: hosts send from ::ffff:127.x.y.z to ${formatEndpoint(mapped)}, which a dual-stack listener on [::]:${target.port} receives (a listener bound to ::1 only does not; use --sources shared for that)`,
  };
}

function checkPrefix(prefix: SourcePrefix, hosts: number): void {
  if (hosts > prefix.capacity) {
    throw new Error(
      `--hosts ${hosts} does not fit the ${prefix.text} source prefix (${prefix.capacity} addresses)`,
    );
  }
}

const prefixCache = new Map<string, SourcePrefix>();

/** Host `host`'s source address as text, or null when the system chooses (`shared`). */
export function sourceAddress(plan: SourcePlan, host: number): string | null {
  if (!plan.prefix) return null;
  let prefix = prefixCache.get(plan.prefix);
  if (!prefix) {
    prefix = parsePrefix(plan.prefix);
    prefixCache.set(plan.prefix, prefix);
  }
  if (plan.kind === "ipv4-mapped") {
    // The dotted form, as a receiver's recvfrom() reports it.
    const n = host + 1;
    return `::ffff:127.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  return hostAddress(prefix, host);
}
