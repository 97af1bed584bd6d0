import assert from "node:assert/strict";
import dgram from "node:dgram";
import { describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import {
  kernelDelta,
  kernelSampleFrom,
  parseProcNetUdp,
  parseSnmp6Udp,
  parseSnmpUdp,
  procAddressHex,
  sampleKernel,
} from "../receiver/kernel-drops.ts";
import { pause } from "./receiver-helpers.ts";

const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            
  421: 00000000:05EA 00000000:0000 07 00000000:00000A00 00:00000000 00000000     0        0 81234 2 0000000000000000 17    
  422: 0100007F:1A0B 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 81240 2 0000000000000000 5     
`;
const UDP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 00000000000000000000000000000000:05EA 00000000000000000000000000000000:0000 07 00000000:00000100 00:00000000 00000000     0        0 91234 2 0000000000000000 3
  101: 00000000000000000000000000000000:05EA 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 91235 2 0000000000000000 4
`;
const SNMP = `Ip: Forwarding DefaultTTL
Ip: 1 64
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 84499 3 2552392 2637119 2552390 0 0 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 0 0 0 0 999 0 0 0 0
`;
const SNMP6 = `Udp6InDatagrams                 	12
Udp6RcvbufErrors                	7
UdpLite6RcvbufErrors            	500
`;

describe("kernel drop parsers (fixture text)", () => {
  it("parses /proc/net/udp and udp6 lines", () => {
    assert.deepEqual(parseProcNetUdp(UDP), [
      {
        localAddressHex: "00000000",
        localPort: 1514,
        remotePort: 0,
        rxQueueBytes: 0xa00,
        inode: 81234,
        drops: 17,
      },
      {
        localAddressHex: "0100007F",
        localPort: 0x1a0b,
        remotePort: 0,
        rxQueueBytes: 0,
        inode: 81240,
        drops: 5,
      },
    ]);
    assert.equal(parseProcNetUdp(UDP, 1514).length, 1, "prefiltered by port");
    assert.equal(parseProcNetUdp(UDP6).length, 2);
    assert.deepEqual(parseProcNetUdp("garbage\n\n  1: nonsense"), []);
  });

  it("writes addresses the way /proc does", () => {
    assert.equal(procAddressHex("127.0.0.1"), "0100007F");
    assert.equal(procAddressHex("::"), "0".repeat(32));
    assert.equal(procAddressHex("::1"), "00000000000000000000000001000000");
    assert.equal(procAddressHex("::ffff:127.0.0.1"), "0000000000000000FFFF00000100007F");
    assert.equal(procAddressHex("2001:db8::2"), "B80D0120000000000000000002000000");
  });

  it("parses the Udp rows of snmp and snmp6 (not UdpLite)", () => {
    assert.equal(parseSnmpUdp(SNMP).RcvbufErrors, 2552390);
    assert.equal(parseSnmpUdp(SNMP).InDatagrams, 84499);
    assert.deepEqual(parseSnmp6Udp(SNMP6), { InDatagrams: 12, RcvbufErrors: 7 });
  });

  it("sums our port's sockets over both tables and takes deltas", () => {
    const start = kernelSampleFrom(1514, UDP, UDP6, SNMP, SNMP6);
    assert.deepEqual(start, {
      socketDrops: 17 + 3 + 4,
      sockets: 3,
      rxQueueBytes: 0xa00 + 0x100,
      rcvbufErrors: 2552390 + 7,
      available: true,
    });
    const end = kernelSampleFrom(
      1514,
      UDP.replace(" 17 ", " 30 "),
      UDP6,
      SNMP.replace("2552390", "2552400"),
      SNMP6,
    );
    assert.deepEqual(kernelDelta(start, end), {
      socketDrops: 13,
      rcvbufErrorsSystem: 10,
      available: true,
    });
    assert.equal(kernelSampleFrom(1514, null, null, null, null).available, false);
  });

  it("sees a real socket that overflows on loopback", async () => {
    // The receiving socket lives in a thread that then blocks, so nothing reads it and every
    // datagram beyond its small buffer is a kernel drop on that socket.
    const worker = new Worker(
      `const dgram = require("node:dgram");
       const { parentPort } = require("node:worker_threads");
       const s = dgram.createSocket({ type: "udp4", recvBufferSize: 4096 });
       s.bind(0, "127.0.0.1", () => {
         parentPort.once("message", (flag) => { Atomics.wait(new Int32Array(flag), 0, 0, 5000); s.close(); });
         parentPort.postMessage(s.address().port);
       });`,
      { eval: true },
    );
    const port: number = await new Promise((resolve) => worker.once("message", resolve));
    const flag = new SharedArrayBuffer(4);
    worker.postMessage(flag);
    await pause(50);
    const before = sampleKernel(port);
    assert.equal(before.sockets, 1);
    const sender = dgram.createSocket("udp4");
    const payload = Buffer.alloc(512, 0x41);
    for (let i = 0; i < 200; i++) {
      await new Promise<void>((resolve) =>
        sender.send(payload, port, "127.0.0.1", () => resolve()),
      );
    }
    const after = sampleKernel(port);
    sender.close();
    Atomics.store(new Int32Array(flag), 0, 1);
    Atomics.notify(new Int32Array(flag), 0);
    await worker.terminate();
    assert.ok(kernelDelta(before, after).socketDrops > 100, "drops counted for this socket");
  });
});
