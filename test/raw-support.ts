/**
 * Shared by the raw and batch transports' tests: why a test must skip (no addon, no CAP_NET_RAW,
 * no tcpdump; .ci/run installs tcpdump, tests never install anything), a loopback listener and a
 * bounded wait for what it gets, a loopback capture with tcpdump, a minimal pcap reader, and an
 * independent (deliberately naive) checksum verifier.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { readFileSync } from "node:fs";
import { loadNetRaw } from "../blaster/raw/native.ts";

/** Why raw-socket tests cannot run here, or undefined when they can. */
export function rawSkipReason(): string | undefined {
  const loaded = loadNetRaw();
  if ("error" in loaded) return `native addon unavailable: ${loaded.error}`;
  try {
    loaded.addon.close(loaded.addon.open("raw6"));
    loaded.addon.close(loaded.addon.open("raw4"));
  } catch (error) {
    return `cannot open a raw socket (${(error as { code?: string }).code ?? error}): needs CAP_NET_RAW`;
  }
  return undefined;
}

/** Why the native addon cannot be used, or undefined. */
export function addonSkipReason(): string | undefined {
  const loaded = loadNetRaw();
  return "error" in loaded ? `native addon unavailable: ${loaded.error}` : undefined;
}

function hasTcpdump(): boolean {
  return spawnSync("tcpdump", ["--version"], { stdio: "ignore" }).status === 0;
}

/** Why tcpdump cannot be used here, or undefined when it is on PATH. */
export function tcpdumpMissing(): string | undefined {
  return hasTcpdump() ? undefined : "tcpdump is not installed (Debian: apt-get install tcpdump)";
}

/** A datagram a loopback listener got. */
export interface Received {
  address: string;
  payload: Buffer;
}

/** A UDP socket on `address` at any free port (4 MiB receive buffer) keeping what it gets. */
export async function listen(
  type: "udp4" | "udp6",
  address: string,
): Promise<{ socket: Socket; port: number; got: Received[] }> {
  const socket = createSocket({ type, recvBufferSize: 4 << 20 });
  const got: Received[] = [];
  socket.on("message", (payload, rinfo) => got.push({ address: rinfo.address, payload }));
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  return { socket, port: socket.address().port, got };
}

/** Waits until `done()` holds, at most `ms` (checks every 20 ms). */
export async function until(done: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

export interface Capture {
  /** Stops tcpdump (after letting it write what it has) and returns the captured packets. */
  stop(): Promise<CapturedPacket[]>;
}

export interface CapturedPacket {
  /** The IP datagram (link-layer header removed). */
  ip: Buffer;
}

/** Starts tcpdump on lo with `filter`, resolving once it is listening. */
export async function startCapture(file: string, filter: string): Promise<Capture> {
  const child: ChildProcess = spawn(
    "tcpdump",
    ["-i", "lo", "--immediate-mode", "-U", "-n", "-Z", "root", "-s", "8192", "-w", file, filter],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${stderr}`)), 10_000);
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes("listening on")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`tcpdump exited with ${code}: ${stderr}`));
    });
  });
  return {
    async stop() {
      // A moment for the last datagrams to pass lo, then SIGINT makes tcpdump flush and exit.
      await new Promise((r) => setTimeout(r, 200));
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGINT");
      await exited;
      return readPcap(readFileSync(file));
    },
  };
}

/** Reads a classic pcap file (microsecond or nanosecond, either byte order). */
export function readPcap(data: Buffer): CapturedPacket[] {
  const magic = data.readUInt32LE(0);
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!little && data.readUInt32BE(0) !== 0xa1b2c3d4 && data.readUInt32BE(0) !== 0xa1b23c4d) {
    throw new Error("not a pcap file");
  }
  const u32 = (at: number) => (little ? data.readUInt32LE(at) : data.readUInt32BE(at));
  const linkType = u32(20);
  // Ethernet (lo on Linux), Linux cooked v1 and v2, raw IP.
  const linkBytes = ({ 1: 14, 113: 16, 276: 20, 101: 0 } as Record<number, number>)[linkType];
  if (linkBytes === undefined) throw new Error(`unexpected pcap link type ${linkType}`);
  const out: CapturedPacket[] = [];
  for (let at = 24; at + 16 <= data.length; ) {
    const caplen = u32(at + 8);
    const frame = data.subarray(at + 16, at + 16 + caplen);
    out.push({ ip: frame.subarray(linkBytes) });
    at += 16 + caplen;
  }
  return out;
}

/** Ones' complement sum of the concatenated parts, written independently of blaster/raw/checksum.ts. */
export function naiveSum(...parts: Uint8Array[]): number {
  const all = Buffer.concat(parts);
  let sum = 0;
  for (let i = 0; i < all.length; i += 2) {
    sum += (all[i] << 8) + (i + 1 < all.length ? all[i + 1] : 0);
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return sum;
}

export interface ParsedDatagram {
  version: 4 | 6;
  source: Buffer;
  destination: Buffer;
  /** TTL or hop limit. */
  hopLimit: number;
  ipChecksumOk: boolean;
  sourcePort: number;
  destinationPort: number;
  udpChecksum: number;
  udpChecksumOk: boolean;
  payload: Buffer;
}

/** Parses an IPv4/IPv6 + UDP datagram and verifies its checksums from scratch. */
export function parseDatagram(ip: Buffer): ParsedDatagram {
  const version = ip[0] >> 4;
  if (version !== 4 && version !== 6) throw new Error(`IP version ${version}`);
  const headerBytes = version === 6 ? 40 : (ip[0] & 0xf) * 4;
  const source = version === 6 ? ip.subarray(8, 24) : ip.subarray(12, 16);
  const destination = version === 6 ? ip.subarray(24, 40) : ip.subarray(16, 20);
  const udp = ip.subarray(headerBytes);
  const udpLength = udp.readUInt16BE(4);
  const u16 = (n: number) => Uint8Array.of(n >> 8, n & 0xff);
  return {
    version,
    source,
    destination,
    hopLimit: version === 6 ? ip[7] : ip[8],
    ipChecksumOk: version === 6 || naiveSum(ip.subarray(0, headerBytes)) === 0xffff,
    sourcePort: udp.readUInt16BE(0),
    destinationPort: udp.readUInt16BE(2),
    udpChecksum: udp.readUInt16BE(6),
    udpChecksumOk:
      udp.readUInt16BE(6) !== 0 &&
      naiveSum(source, destination, u16(17), u16(udpLength), udp.subarray(0, udpLength)) === 0xffff,
    payload: Buffer.from(udp.subarray(8, udpLength)),
  };
}

/** Runs `ip` with arguments; throws with its stderr on failure. */
export function ip(...args: string[]): string {
  return execFileSync("ip", args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 5000,
  });
}
