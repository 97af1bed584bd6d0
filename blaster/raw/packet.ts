/**
 * Hand-built IPv6/IPv4 + UDP datagrams for the raw transport, the way a kernel's netconsole
 * (netpoll) builds them: IPv6 hop limit 32, IPv4 TTL 64, no fragmentation flags, UDP checksum
 * always set (a computed 0 goes out as 0xFFFF). Pure: no sockets, no clocks.
 *
 * Per packet the builder writes the source address for the host index, the lengths, the payload
 * and the checksums; everything fixed per destination (destination address, ports, protocol) is
 * summed once in the constructor, so the per-packet checksum work is the payload plus a handful of
 * words, with no allocation.
 */
import { parseAddress, type SourcePrefix, writeHostAddress } from "./address.ts";
import { finish, finishUdp, sumWords } from "./checksum.ts";

export const IPV6_HEADER_BYTES = 40;
export const IPV4_HEADER_BYTES = 20;
export const UDP_HEADER_BYTES = 8;
export const IPV6_HOP_LIMIT = 32;
export const IPV4_TTL = 64;
export const IPPROTO_UDP = 17;
/** The kernel netconsole's default local port. */
export const NETCONSOLE_SOURCE_PORT = 6665;
/** The largest UDP payload an IP datagram can carry (IPv4 total length is 16 bits). */
export const MAX_UDP_PAYLOAD_V4 = 0xffff - IPV4_HEADER_BYTES - UDP_HEADER_BYTES;
export const MAX_UDP_PAYLOAD_V6 = 0xffff - UDP_HEADER_BYTES;

export interface DatagramPlan {
  /** Where spoofed source addresses come from (host i = prefix + 1 + i). */
  prefix: SourcePrefix;
  /** Destination address, same family as the prefix. */
  destination: string;
  destinationPort: number;
  /** Default 6665, the kernel's. */
  sourcePort?: number;
}

export class DatagramBuilder {
  readonly family: 4 | 6;
  /** IP + UDP header bytes in front of each payload. */
  readonly headerBytes: number;
  readonly maxPayload: number;
  private readonly prefix: SourcePrefix;
  private readonly destination: Uint8Array;
  private readonly sourcePort: number;
  private readonly destinationPort: number;
  /** Unfolded sum of the UDP pseudo-header and header words that never change. */
  private readonly udpFixedSum: number;
  /** Unfolded sum of the IPv4 header words that never change. */
  private readonly ipFixedSum: number;
  /** IPv4 identification, +1 per datagram like the kernel's counter. */
  private ipId = 0;

  constructor(plan: DatagramPlan) {
    const destination = parseAddress(plan.destination);
    if (!destination) throw new Error(`destination "${plan.destination}" is not an IP address`);
    const family = destination.length === 4 ? 4 : 6;
    if (family !== plan.prefix.family) {
      throw new Error(
        `source prefix ${plan.prefix.text} is IPv${plan.prefix.family} but destination ${plan.destination} is IPv${family}`,
      );
    }
    checkPort("destination port", plan.destinationPort);
    const sourcePort = plan.sourcePort ?? NETCONSOLE_SOURCE_PORT;
    checkPort("source port", sourcePort);
    this.family = family;
    this.prefix = plan.prefix;
    this.destination = destination;
    this.sourcePort = sourcePort;
    this.destinationPort = plan.destinationPort;
    this.headerBytes = (family === 6 ? IPV6_HEADER_BYTES : IPV4_HEADER_BYTES) + UDP_HEADER_BYTES;
    this.maxPayload = family === 6 ? MAX_UDP_PAYLOAD_V6 : MAX_UDP_PAYLOAD_V4;
    // Pseudo-header: destination, protocol; UDP header: both ports. The source address and the
    // length (counted twice: pseudo-header and UDP header) are added per packet.
    this.udpFixedSum =
      sumWords(destination, 0, destination.length) +
      IPPROTO_UDP +
      sourcePort +
      plan.destinationPort;
    // IPv4 header: version/IHL/TOS, TTL/protocol, destination (flags/fragment offset are 0).
    this.ipFixedSum =
      0x4500 + ((IPV4_TTL << 8) | IPPROTO_UDP) + sumWords(destination, 0, destination.length);
  }

  /** Total datagram length for a payload of `payloadBytes`. */
  sizeFor(payloadBytes: number): number {
    return this.headerBytes + payloadBytes;
  }

  /**
   * Writes the whole IP datagram for host `host` carrying payload[start, end) into `out` at
   * `offset` and returns its length. The caller makes sure it fits (sizeFor()).
   */
  write(
    out: Uint8Array,
    offset: number,
    host: number,
    payload: Uint8Array,
    start = 0,
    end = payload.length,
  ): number {
    const payloadBytes = end - start;
    if (payloadBytes > this.maxPayload) {
      throw new RangeError(
        `payload of ${payloadBytes} bytes exceeds the ${this.maxPayload}-byte UDP maximum`,
      );
    }
    const udpLength = UDP_HEADER_BYTES + payloadBytes;
    const payloadSum = sumWords(payload, start, end);
    let udp: number;
    let srcAt: number;
    if (this.family === 6) {
      out[offset] = 0x60; // version 6, traffic class 0, flow label 0 (netpoll's choice)
      out[offset + 1] = 0;
      out[offset + 2] = 0;
      out[offset + 3] = 0;
      out[offset + 4] = udpLength >>> 8;
      out[offset + 5] = udpLength & 0xff;
      out[offset + 6] = IPPROTO_UDP;
      out[offset + 7] = IPV6_HOP_LIMIT;
      srcAt = offset + 8;
      writeHostAddress(this.prefix, host, out, srcAt);
      out.set(this.destination, offset + 24);
      udp = offset + IPV6_HEADER_BYTES;
    } else {
      const total = IPV4_HEADER_BYTES + udpLength;
      const id = this.ipId;
      this.ipId = (id + 1) & 0xffff;
      out[offset] = 0x45;
      out[offset + 1] = 0;
      out[offset + 2] = total >>> 8;
      out[offset + 3] = total & 0xff;
      out[offset + 4] = id >>> 8;
      out[offset + 5] = id & 0xff;
      out[offset + 6] = 0;
      out[offset + 7] = 0;
      out[offset + 8] = IPV4_TTL;
      out[offset + 9] = IPPROTO_UDP;
      srcAt = offset + 12;
      writeHostAddress(this.prefix, host, out, srcAt);
      out.set(this.destination, offset + 16);
      const ipSum = finish(this.ipFixedSum + total + id + sumWords(out, srcAt, srcAt + 4));
      out[offset + 10] = ipSum >>> 8;
      out[offset + 11] = ipSum & 0xff;
      udp = offset + IPV4_HEADER_BYTES;
    }
    const srcSum = sumWords(out, srcAt, srcAt + (this.family === 6 ? 16 : 4));
    const check = finishUdp(this.udpFixedSum + srcSum + 2 * udpLength + payloadSum);
    out[udp] = this.sourcePort >>> 8;
    out[udp + 1] = this.sourcePort & 0xff;
    out[udp + 2] = this.destinationPort >>> 8;
    out[udp + 3] = this.destinationPort & 0xff;
    out[udp + 4] = udpLength >>> 8;
    out[udp + 5] = udpLength & 0xff;
    out[udp + 6] = check >>> 8;
    out[udp + 7] = check & 0xff;
    copyPayload(payload, start, end, out, udp + UDP_HEADER_BYTES);
    return this.headerBytes + payloadBytes;
  }
}

/** memcpy without a subarray view per packet when the payload is a Buffer (the hot path). */
function copyPayload(
  payload: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  at: number,
): void {
  if (Buffer.isBuffer(payload)) payload.copy(out, at, start, end);
  else out.set(start === 0 && end === payload.length ? payload : payload.subarray(start, end), at);
}

function checkPort(what: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new RangeError(`${what} must be 1-65535, got ${port}`);
}
