/**
 * What the raw and udp-batch transports make of the blaster's transport options: the IP family
 * and destination they actually send to, the source prefix, and whether spoofing towards that
 * destination is allowed.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readlinkSync } from "node:fs";
import type { TransportOptions } from "../transport.ts";
import {
  formatAddress,
  isLoopback,
  parseAddress,
  parsePrefix,
  type SourcePrefix,
} from "./address.ts";

export interface WirePlan {
  family: 4 | 6;
  /** Destination address as the socket and the IP header use it. */
  destination: string;
  port: number;
  /** Source prefix (host i = prefix + 1 + i), or null when hosts share the system's address. */
  prefix: SourcePrefix | null;
}

/**
 * An IPv4-mapped target (`::ffff:127.0.0.1`, the blaster's way of reaching a dual-stack
 * listener from 127.x.y.z sources) goes out as plain IPv4: mapped addresses never appear in an
 * IPv6 header on the wire, and the listener sees `::ffff:127.x.y.z` either way.
 */
export function wirePlan(options: TransportOptions): WirePlan {
  const dest = parseAddress(options.target.address);
  if (!dest) throw new Error(`target ${options.target.address} is not a numeric address`);
  let prefix = options.sources.prefix ? parsePrefix(options.sources.prefix) : null;
  if (prefix?.family === 6 && isMapped(prefix.bytes)) {
    if (prefix.length < 96)
      throw new Error(`source prefix ${prefix.text} reaches outside ::ffff:0:0/96`);
    prefix = parsePrefix(`${formatAddress(prefix.bytes.subarray(12))}/${prefix.length - 96}`);
  }
  const mapped = dest.length === 16 && isMapped(dest);
  const family: 4 | 6 = dest.length === 4 || mapped ? 4 : 6;
  const destination = mapped ? formatAddress(dest.subarray(12)) : formatAddress(dest);
  if (prefix && prefix.family !== family) {
    throw new Error(
      `source prefix ${prefix.text} is IPv${prefix.family} but the target ${destination} is IPv${family}`,
    );
  }
  return { family, destination, port: options.target.port, prefix };
}

function isMapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** Whether this process runs in a network namespace other than init's (as under `ip netns exec`). */
export function inPrivateNetns(): boolean {
  try {
    return readlinkSync("/proc/self/ns/net") !== readlinkSync("/proc/1/ns/net");
  } catch {
    return false;
  }
}

/** The names of the network namespaces made with `ip netns add` whose addresses include `address`. */
export function netnsHolding(address: string): string[] {
  const want = parseAddress(address);
  if (!want) return [];
  let names: string[];
  try {
    names = readdirSync("/run/netns");
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const name of names) {
    try {
      const out = execFileSync("ip", ["-n", name, "-j", "addr", "show"], {
        encoding: "utf8",
        timeout: 2000,
      });
      const links = JSON.parse(out) as { addr_info?: { local?: string }[] }[];
      const held = links.some((link) =>
        (link.addr_info ?? []).some((a) => {
          const b = a.local ? parseAddress(a.local) : null;
          return b !== null && b.length === want.length && b.every((x, i) => x === want[i]);
        }),
      );
      if (held) found.push(name);
    } catch {
      // A namespace we cannot inspect simply does not count as the user's.
    }
  }
  return found;
}

/**
 * Spoofed sources go only where they cannot leave the machine unasked: loopback, a network
 * namespace the user made (we run inside one, or the target is an address inside one), or
 * anywhere with --allow-remote. Returns a one-line refusal, or null.
 */
export function spoofingRefusal(destination: string, allowRemote: boolean): string | null {
  if (allowRemote || isLoopback(destination) || inPrivateNetns()) return null;
  if (netnsHolding(destination).length > 0) return null;
  return (
    `spoofed source addresses go only to loopback or to an address inside a network namespace you made ` +
    `(ip netns add), and ${destination} is neither; pass --allow-remote if you really mean to send them there`
  );
}
