/**
 * A corpus of kernel-log-like records, written for this project (no real machine's log is
 * copied): boot messages, driver chatter, a WARN with its stack trace, a hung-task report, an
 * OOM report and an oops that ends in a panic. It has what stresses a receiver: LOG_CONT
 * continuation records (flag `c`), records with embedded newlines and non-ASCII bytes (escaped
 * on the wire), printk dictionaries, and records longer than one datagram (which fragment).
 *
 * Records are grouped in scripts; a simulated host plays one script after another (chatter
 * scripts are one record long). The panic script is only played in storm mode.
 */

export interface CorpusRecord {
  level: number;
  facility: number;
  text: string;
  cont?: boolean;
  dict?: [string, string][];
  /** The task that logged it (sysdata taskname, caller id). */
  task: string;
  pid: number;
}

export interface Script {
  name: string;
  records: CorpusRecord[];
  /** Relative weight when a host picks its next script (0: only played on purpose). */
  weight: number;
}

const KERN_EMERG = 0;
const KERN_ALERT = 1;
const KERN_ERR = 3;
const KERN_WARNING = 4;
const KERN_NOTICE = 5;
const KERN_INFO = 6;
const KERN_DEBUG = 7;

/** Shorthand for a kernel-facility record from a task. */
function r(
  level: number,
  text: string,
  extra: Partial<Omit<CorpusRecord, "level" | "text">> = {},
): CorpusRecord {
  return { level, text, facility: 0, task: "swapper/0", pid: 0, ...extra };
}

const MODULES =
  "Modules linked in: xt_conntrack nft_chain_nat xt_MASQUERADE nf_nat nf_conntrack_netlink nf_conntrack " +
  "nf_defrag_ipv6 nf_defrag_ipv4 xfrm_user xfrm_algo xt_addrtype nft_compat nf_tables br_netfilter bridge " +
  "stp llc overlay netconsole tls intel_rapl_msr intel_rapl_common intel_uncore_frequency " +
  "intel_uncore_frequency_common isst_if_common skx_edac nfit x86_pkg_temp_thermal intel_powerclamp " +
  "coretemp kvm_intel kvm irqbypass crct10dif_pclmul crc32_pclmul polyval_clmulni polyval_generic " +
  "ghash_clmulni_intel sha256_ssse3 sha1_ssse3 aesni_intel crypto_simd cryptd rapl intel_cstate " +
  "ipmi_ssif mei_me intel_pch_thermal mei acpi_ipmi ipmi_si ipmi_devintf ipmi_msghandler acpi_pad " +
  "acpi_power_meter mac_hid sch_fq_codel dm_multipath scsi_dh_rdac scsi_dh_emc scsi_dh_alua msr " +
  "efi_pstore ip_tables x_tables autofs4 btrfs blake2b_generic raid10 raid456 async_raid6_recov " +
  "async_memcpy async_pq async_xor async_tx xor raid6_pq libcrc32c raid1 raid0 multipath linear " +
  "mlx5_ib ib_uverbs ib_core ast i2c_algo_bit drm_shmem_helper drm_kms_helper mlx5_core nvme drm " +
  "mlxfw psample crc32c_intel nvme_core i40e ahci xhci_pci libahci nvme_auth xhci_pci_renesas tls " +
  "pci_hyperv_intf wmi [last unloaded: nf_conntrack_tftp]";

const CODE =
  "Code: 48 89 e5 41 57 41 56 41 55 41 54 53 48 83 ec 18 48 8b 47 08 48 85 c0 74 6d 49 89 fc " +
  "49 89 f6 41 89 d5 48 8b 58 10 48 85 db 74 5c 4c 8b 7b 08 <48> 8b 43 08 4d 85 ff 0f 84 a7 00 " +
  "00 00 48 8b 40 38 48 85 c0 74 3e 4c 89 ff e8 2c 8e 55 00 84 c0 75 2d";

function stack(frames: string[]): CorpusRecord[] {
  return [
    r(KERN_WARNING, "Call Trace:"),
    r(KERN_WARNING, " <TASK>"),
    ...frames.map((f) => r(KERN_WARNING, ` ${f}`)),
    r(KERN_WARNING, " </TASK>"),
  ];
}

function registers(level: number): CorpusRecord[] {
  return [
    "RSP: 0018:ffffb3c2c0f4bd38 EFLAGS: 00010246",
    "RAX: 0000000000000000 RBX: ffff9a3e4c8d2000 RCX: 0000000000000000",
    "RDX: 0000000000000001 RSI: ffff9a3e41a6c000 RDI: ffff9a3e4c8d2000",
    "RBP: ffffb3c2c0f4bd68 R08: 0000000000000000 R09: ffffb3c2c0f4bcf0",
    "R10: 0000000000000001 R11: 0000000000000000 R12: ffff9a3e41a6c000",
    "R13: 0000000000000008 R14: ffff9a3e4c8d2240 R15: 0000000000000000",
    "FS:  0000000000000000(0000) GS:ffff9a4d9fa00000(0000) knlGS:0000000000000000",
    "CS:  0010 DS: 0000 ES: 0000 CR0: 0000000080050033",
    "CR2: 0000000000000008 CR3: 000000010a8ee004 CR4: 00000000007706f0",
  ].map((t) => r(level, t));
}

const BOOT: CorpusRecord[] = [
  r(
    KERN_NOTICE,
    "Linux version 6.8.0-45-generic (buildd@lcy02-amd64-115) (x86_64-linux-gnu-gcc-13 (Ubuntu 13.2.0-23ubuntu4) 13.2.0, GNU ld (GNU Binutils for Ubuntu) 2.42) #45-Ubuntu SMP PREEMPT_DYNAMIC Fri Aug 30 12:02:04 UTC 2024 (Ubuntu 6.8.0-45.45-generic 6.8.12)",
  ),
  r(
    KERN_INFO,
    "Command line: BOOT_IMAGE=/boot/vmlinuz-6.8.0-45-generic root=UUID=5f3c2a1e-8d4b-4e6a-9c2f-1b7e0d9a3c51 ro console=tty0 console=ttyS0,115200n8 netconsole=+r6665@10.0.0.2/eth0,1514@10.0.0.1/ printk.time=1",
  ),
  r(KERN_INFO, "BIOS-provided physical RAM map:"),
  r(KERN_INFO, "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable"),
  r(KERN_INFO, "BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved"),
  r(KERN_INFO, "BIOS-e820: [mem 0x0000000000100000-0x00000000bffdafff] usable"),
  r(KERN_INFO, "BIOS-e820: [mem 0x0000000100000000-0x000000043fffffff] usable"),
  r(KERN_INFO, "NX (Execute Disable) protection: active"),
  r(KERN_INFO, "DMI: Supermicro SYS-1029P-WTR/X11DDW-L, BIOS 3.4 03/19/2021"),
  r(KERN_INFO, "tsc: Detected 2394.374 MHz processor"),
  r(KERN_INFO, "ACPI: RSDP 0x00000000000F05B0 000024 (v02 SUPERM)"),
  r(KERN_INFO, "Memory: "),
  r(KERN_INFO, "16302468K/16776692K available (20480K kernel code, 4414K rwdata, ", { cont: true }),
  r(KERN_INFO, "14336K rodata, 4800K init, 17656K bss, 474224K reserved, 0K cma-reserved)", {
    cont: true,
  }),
  r(
    KERN_INFO,
    "smpboot: CPU0: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz (family: 0x6, model: 0x55, stepping: 0x7)",
  ),
  r(KERN_INFO, "raid6: avx2x4   gen() 21138 MB/s"),
  r(KERN_INFO, "raid6: using algorithm avx2x4 gen() 21138 MB/s"),
  r(KERN_INFO, "pci 0000:00:1f.2: [8086:a182] type 00 class 0x010601 conventional PCI endpoint", {
    dict: [
      ["SUBSYSTEM", "pci"],
      ["DEVICE", "+pci:0000:00:1f.2"],
    ],
  }),
  r(KERN_INFO, "nvme nvme0: pci function 0000:5e:00.0", {
    task: "kworker/u97:1",
    pid: 312,
    dict: [
      ["SUBSYSTEM", "pci"],
      ["DEVICE", "+pci:0000:5e:00.0"],
    ],
  }),
  r(KERN_INFO, " nvme0n1: p1 p2 p3", { task: "kworker/u97:1", pid: 312 }),
  r(KERN_INFO, "usb 1-1: new high-speed USB device number 2 using xhci_hcd", {
    task: "kworker/0:2",
    pid: 88,
  }),
  r(KERN_INFO, "usb 1-1: Product: Logitech\u00ae USB Receiver", { task: "kworker/0:2", pid: 88 }),
  r(
    KERN_INFO,
    "EXT4-fs (nvme0n1p2): mounted filesystem 5f3c2a1e-8d4b-4e6a-9c2f-1b7e0d9a3c51 ro with ordered data mode. Quota mode: none.",
    {
      task: "mount",
      pid: 401,
    },
  ),
  r(KERN_INFO, "systemd[1]: Detected architecture x86-64.", {
    facility: 3,
    task: "systemd",
    pid: 1,
  }),
  r(KERN_INFO, "systemd[1]: Hostname set to <web-042>.", { facility: 3, task: "systemd", pid: 1 }),
  r(KERN_INFO, "netpoll: netconsole: local port 6665", { task: "modprobe", pid: 512 }),
  r(KERN_INFO, "netconsole: network logging started", { task: "modprobe", pid: 512 }),
  r(KERN_INFO, "i40e 0000:3b:00.0 eth0: NIC Link is Up, 10 Gbps Full Duplex, Flow Control: None", {
    task: "kworker/3:1",
    pid: 201,
    dict: [
      ["SUBSYSTEM", "net"],
      ["DEVICE", "n2"],
    ],
  }),
];

const CHATTER: CorpusRecord[] = [
  r(KERN_INFO, "IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready", {
    task: "kworker/3:1",
    pid: 201,
  }),
  r(KERN_INFO, "docker0: port 1(veth3a9f1c2) entered forwarding state", {
    task: "dockerd",
    pid: 1433,
  }),
  r(KERN_INFO, "device veth3a9f1c2 entered promiscuous mode", { task: "dockerd", pid: 1433 }),
  r(KERN_WARNING, "nvme nvme0: I/O tag 123 (a07b) opcode 0x2 (Read) QID 4 timeout, aborting", {
    task: "kworker/4:1H",
    pid: 977,
    dict: [
      ["SUBSYSTEM", "nvme"],
      ["DEVICE", "c259:0"],
    ],
  }),
  r(
    KERN_INFO,
    "TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies.  Check SNMP counters.",
  ),
  r(
    KERN_NOTICE,
    'audit: type=1400 audit(1732190012.418:2231): apparmor="DENIED" operation="open" class="file" profile="/usr/sbin/ntpd" name="/etc/ssl/openssl.cnf" pid=2214 comm="ntpd" requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
    {
      task: "ntpd",
      pid: 2214,
    },
  ),
  r(
    KERN_WARNING,
    "[UFW BLOCK] IN=eth0 OUT= MAC=3c:ec:ef:12:34:56:00:1c:73:ab:cd:ef:08:00 SRC=198.51.100.23 DST=203.0.113.10 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=43121 DF PROTO=TCP SPT=51234 DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0",
  ),
  r(
    KERN_INFO,
    "perf: interrupt took too long (2503 > 2500), lowering kernel.perf_event_max_sample_rate to 79750",
  ),
  r(KERN_WARNING, "hrtimer: interrupt took 1048576 ns"),
  r(
    KERN_ERR,
    "sd 0:0:0:0: [sda] tag#12 FAILED Result: hostbyte=DID_OK driverbyte=DRIVER_OK cmd_age=0s",
    {
      task: "kworker/2:1H",
      pid: 455,
      dict: [
        ["SUBSYSTEM", "scsi"],
        ["DEVICE", "+scsi:0:0:0:0"],
      ],
    },
  ),
  r(
    KERN_ERR,
    "I/O error, dev sda, sector 9437184 op 0x0:(READ) flags 0x80700 phys_seg 1 prio class 2",
    {
      task: "kworker/2:1H",
      pid: 455,
    },
  ),
  r(
    KERN_ERR,
    "mlx5_core 0000:af:00.0: mlx5_cmd_out_err:838:(pid 1234): QUERY_VPORT_COUNTER(0x770) op_mod(0x0) failed, status bad parameter(0x3), syndrome (0x3a1b2c), err(-22)",
    {
      task: "ethtool",
      pid: 1234,
    },
  ),
  r(
    KERN_INFO,
    "traps: nginx[4242] general protection fault ip:55d0c3a1b2c4 sp:7ffd2a1b3c40 error:0 in nginx[55d0c3a00000+11c000]",
    {
      task: "nginx",
      pid: 4242,
    },
  ),
  r(KERN_DEBUG, "bond0: (slave eth1): link status definitely up, 25000 Mbps full duplex", {
    task: "kworker/1:0",
    pid: 19,
  }),
  r(KERN_NOTICE, "Hardware error from APEI Generic Hardware Error Source: 1"),
  r(
    KERN_INFO,
    "EXT4-fs (nvme0n1p3): re-mounted 9a8b7c6d-1e2f-4a3b-8c7d-6e5f4a3b2c1d r/w. Quota mode: none.",
    {
      task: "mount",
      pid: 3021,
    },
  ),
  r(
    KERN_INFO,
    "xfs filesystem being remounted at /var/lib/kubelet supports timestamps until 2038-01-19 (0x7fffffff)",
  ),
  r(
    KERN_WARNING,
    "CPU: 7 PID: 31337 Comm: java Tainted: G           OE      6.8.0-45-generic #45-Ubuntu",
    {
      task: "java",
      pid: 31337,
    },
  ),
  r(
    KERN_INFO,
    "systemd-journald[412]: Data hash table of /var/log/journal/5f3c2a1e/system.journal has a fill level at 75.0 (8535 of 11377 items, 6553600 file size, 767 bytes per hash table item), suggesting rotation.",
    {
      facility: 3,
      task: "systemd-journal",
      pid: 412,
    },
  ),
  r(KERN_INFO, "kauditd_printk_skb: 14 callbacks suppressed", { task: "kauditd", pid: 95 }),
  r(
    KERN_INFO,
    "rcu: INFO: rcu_preempt detected expedited stalls on CPUs/tasks: {\t7-... } 21004 jiffies s: 1817 root: 0x80/.",
    {
      task: "rcu_preempt",
      pid: 16,
    },
  ),
];

const WARN: CorpusRecord[] = [
  r(KERN_WARNING, "------------[ cut here ]------------", { task: "kworker/5:2", pid: 2311 }),
  r(
    KERN_WARNING,
    "WARNING: CPU: 5 PID: 2311 at net/core/dev.c:4631 netif_receive_skb_list_internal+0x2a1/0x2f0",
    {
      task: "kworker/5:2",
      pid: 2311,
    },
  ),
  r(KERN_WARNING, MODULES, { task: "kworker/5:2", pid: 2311 }),
  r(
    KERN_WARNING,
    "CPU: 5 PID: 2311 Comm: kworker/5:2 Tainted: G        W  OE      6.8.0-45-generic #45-Ubuntu",
    {
      task: "kworker/5:2",
      pid: 2311,
    },
  ),
  r(KERN_WARNING, "Hardware name: Supermicro SYS-1029P-WTR/X11DDW-L, BIOS 3.4 03/19/2021"),
  r(KERN_WARNING, "Workqueue: events_power_efficient phy_state_machine"),
  r(KERN_WARNING, "RIP: 0010:netif_receive_skb_list_internal+0x2a1/0x2f0"),
  r(KERN_WARNING, CODE),
  ...registers(KERN_WARNING),
  ...stack([
    "? show_regs+0x6d/0x80",
    "? __warn+0x89/0x160",
    "? netif_receive_skb_list_internal+0x2a1/0x2f0",
    "? report_bug+0x17e/0x1b0",
    "? handle_bug+0x46/0x90",
    "? exc_invalid_op+0x18/0x80",
    "? asm_exc_invalid_op+0x1b/0x20",
    "napi_complete_done+0x6e/0x1b0",
    "i40e_napi_poll+0x1a5/0x7d0 [i40e]",
    "__napi_poll+0x30/0x1f0",
    "net_rx_action+0x181/0x2e0",
    "__do_softirq+0xd9/0x2c8",
    "process_one_work+0x16f/0x350",
    "worker_thread+0x306/0x440",
    "? __pfx_worker_thread+0x10/0x10",
    "kthread+0xef/0x120",
    "? __pfx_kthread+0x10/0x10",
    "ret_from_fork+0x44/0x70",
    "? __pfx_kthread+0x10/0x10",
    "ret_from_fork_asm+0x1b/0x30",
  ]),
  r(KERN_WARNING, "---[ end trace 0000000000000000 ]---"),
  // lockdep prints its banner as one record with embedded newlines (escaped \x0a on the wire).
  r(
    KERN_WARNING,
    "\n======================================================\nWARNING: possible circular locking dependency detected\n6.8.0-45-generic #45-Ubuntu Tainted: G        W  OE\n------------------------------------------------------\nkworker/5:2/2311 is trying to acquire lock:\nffff9a3e4c8d2240 (&dev->mutex){+.+.}-{3:3}, at: device_del+0x3c/0x3d0\n\nbut task is already holding lock:\nffffffffa1c4e3a8 (rtnl_mutex){+.+.}-{3:3}, at: rtnl_lock+0x15/0x20",
    { task: "kworker/5:2", pid: 2311 },
  ),
];

const HUNG: CorpusRecord[] = [
  r(KERN_ERR, "INFO: task jbd2/nvme0n1p2-8:512 blocked for more than 122 seconds.", {
    task: "khungtaskd",
    pid: 97,
  }),
  r(KERN_ERR, "      Tainted: G           OE      6.8.0-45-generic #45-Ubuntu", {
    task: "khungtaskd",
    pid: 97,
  }),
  r(KERN_ERR, '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.', {
    task: "khungtaskd",
    pid: 97,
  }),
  r(
    KERN_INFO,
    "task:jbd2/nvme0n1p2-8 state:D stack:0     pid:512   tgid:512   ppid:2      flags:0x00004000",
    {
      task: "khungtaskd",
      pid: 97,
    },
  ),
  ...stack([
    "__schedule+0x27c/0x6b0",
    "schedule+0x33/0x110",
    "io_schedule+0x46/0x80",
    "bit_wait_io+0x11/0x90",
    "__wait_on_bit+0x42/0x110",
    "out_of_line_wait_on_bit+0x8c/0xb0",
    "jbd2_journal_commit_transaction+0x15c8/0x1a30",
    "kjournald2+0xaa/0x280",
    "kthread+0xef/0x120",
    "ret_from_fork+0x44/0x70",
    "ret_from_fork_asm+0x1b/0x30",
  ]),
];

const OOM_TASKS = Array.from({ length: 24 }, (_, i) => {
  const pid = 700 + i * 137;
  const names = [
    "systemd-journal",
    "systemd-udevd",
    "sshd",
    "dockerd",
    "containerd",
    "java",
    "nginx",
    "node",
  ];
  const name = names[i % names.length];
  return r(
    KERN_INFO,
    `[${String(pid).padStart(7)}] ${String(i % 3 === 0 ? 0 : 1000).padStart(5)} ${String(pid).padStart(7)} ${String(
      40000 + i * 7919,
    ).padStart(
      8,
    )} ${String(2000 + i * 311).padStart(8)} ${String(245760 + i * 8192).padStart(8)} ${String(0).padStart(8)}             0 ${name}`,
    { task: "java", pid: 31337 },
  );
});

const OOM: CorpusRecord[] = [
  r(
    KERN_WARNING,
    "java invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0",
    {
      task: "java",
      pid: 31337,
    },
  ),
  r(
    KERN_WARNING,
    "CPU: 3 PID: 31337 Comm: java Tainted: G           OE      6.8.0-45-generic #45-Ubuntu",
    {
      task: "java",
      pid: 31337,
    },
  ),
  r(KERN_WARNING, "Hardware name: Supermicro SYS-1029P-WTR/X11DDW-L, BIOS 3.4 03/19/2021"),
  ...stack([
    "dump_stack_lvl+0x48/0x70",
    "dump_stack+0x10/0x20",
    "dump_header+0x50/0x220",
    "oom_kill_process+0x10d/0x1c0",
    "out_of_memory+0x101/0x580",
    "__alloc_pages_slowpath.constprop.0+0xc9a/0xe60",
    "__alloc_pages+0x2fb/0x330",
    "alloc_pages_mpol+0x91/0x1f0",
    "folio_alloc+0x1e/0x60",
    "__filemap_get_folio+0x10f/0x350",
    "filemap_fault+0x149/0x8c0",
    "__do_fault+0x36/0x150",
    "do_fault+0x246/0x510",
    "handle_mm_fault+0x1c4/0x370",
    "exc_page_fault+0x77/0x170",
    "asm_exc_page_fault+0x27/0x30",
  ]),
  r(KERN_INFO, "Mem-Info:", { task: "java", pid: 31337 }),
  r(
    KERN_INFO,
    "active_anon:3868418 inactive_anon:179872 isolated_anon:0\n active_file:71 inactive_file:0 isolated_file:0\n unevictable:0 dirty:0 writeback:0\n slab_reclaimable:10713 slab_unreclaimable:26344\n mapped:2069 shmem:2212 pagetables:10158\n sec_pagetables:0 bounce:0\n kernel_misc_reclaimable:0\n free:33069 free_pcp:1364 free_cma:0",
    { task: "java", pid: 31337 },
  ),
  r(KERN_INFO, "Node 0 DMA: ", { task: "java", pid: 31337 }),
  ...[
    "0*4kB ",
    "0*8kB ",
    "0*16kB ",
    "1*32kB (U) ",
    "2*64kB (U) ",
    "1*128kB (U) ",
    "1*256kB (U) ",
    "0*512kB ",
    "1*1024kB (U) ",
    "1*2048kB (M) ",
    "3*4096kB (M) ",
    "= 15904kB",
  ].map((t) => r(KERN_INFO, t, { cont: true, task: "java", pid: 31337 })),
  r(KERN_INFO, "Tasks state (memory values in pages):", { task: "java", pid: 31337 }),
  r(
    KERN_INFO,
    "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name",
    {
      task: "java",
      pid: 31337,
    },
  ),
  ...OOM_TASKS,
  r(
    KERN_INFO,
    "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/app.service,task=java,pid=31337,uid=1000",
    {
      task: "java",
      pid: 31337,
    },
  ),
  r(
    KERN_ERR,
    "Out of memory: Killed process 31337 (java) total-vm:21520428kB, anon-rss:15432196kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:31236kB oom_score_adj:0",
    {
      task: "java",
      pid: 31337,
    },
  ),
];

const PANIC: CorpusRecord[] = [
  r(KERN_ALERT, "BUG: kernel NULL pointer dereference, address: 0000000000000008", {
    task: "ksoftirqd/5",
    pid: 41,
  }),
  r(KERN_ALERT, "#PF: supervisor read access in kernel mode", { task: "ksoftirqd/5", pid: 41 }),
  r(KERN_ALERT, "#PF: error_code(0x0000) - not-present page", { task: "ksoftirqd/5", pid: 41 }),
  r(KERN_INFO, "PGD 0 P4D 0 ", { task: "ksoftirqd/5", pid: 41 }),
  r(KERN_WARNING, "Oops: 0000 [#1] PREEMPT SMP NOPTI", { task: "ksoftirqd/5", pid: 41 }),
  r(
    KERN_WARNING,
    "CPU: 5 PID: 41 Comm: ksoftirqd/5 Tainted: G        W  OE      6.8.0-45-generic #45-Ubuntu",
    {
      task: "ksoftirqd/5",
      pid: 41,
    },
  ),
  r(KERN_WARNING, "Hardware name: Supermicro SYS-1029P-WTR/X11DDW-L, BIOS 3.4 03/19/2021"),
  r(KERN_WARNING, "RIP: 0010:skb_release_data+0x6a/0x1e0"),
  r(KERN_WARNING, CODE),
  ...registers(KERN_WARNING),
  r(KERN_WARNING, "PKRU: 55555554"),
  ...stack([
    "<IRQ>",
    "? show_regs+0x6d/0x80",
    "? __die+0x24/0x80",
    "? page_fault_oops+0x99/0x1b0",
    "? do_user_addr_fault+0x2e9/0x670",
    "? exc_page_fault+0x77/0x170",
    "? asm_exc_page_fault+0x27/0x30",
    "? skb_release_data+0x6a/0x1e0",
    "consume_skb+0x45/0xc0",
    "i40e_clean_tx_irq+0x1b0/0x4d0 [i40e]",
    "i40e_napi_poll+0xf2/0x7d0 [i40e]",
    "__napi_poll+0x30/0x1f0",
    "net_rx_action+0x181/0x2e0",
    "__do_softirq+0xd9/0x2c8",
    "</IRQ>",
    "run_ksoftirqd+0x35/0x60",
    "smpboot_thread_fn+0xdd/0x1d0",
    "kthread+0xef/0x120",
    "ret_from_fork+0x44/0x70",
    "ret_from_fork_asm+0x1b/0x30",
  ]),
  r(KERN_WARNING, MODULES),
  r(KERN_WARNING, "CR2: 0000000000000008"),
  r(KERN_WARNING, "---[ end trace 0000000000000000 ]---"),
  r(KERN_EMERG, "Kernel panic - not syncing: Fatal exception in interrupt", {
    task: "ksoftirqd/5",
    pid: 41,
  }),
  r(
    KERN_EMERG,
    "Kernel Offset: 0x1a000000 from 0xffffffff81000000 (relocation range: 0xffffffff80000000-0xffffffffbfffffff)",
  ),
  r(KERN_EMERG, "---[ end Kernel panic - not syncing: Fatal exception in interrupt ]---"),
];

/** All scripts; chatter records are one-record scripts so hosts mostly chatter. */
export const SCRIPTS: Script[] = [
  { name: "boot", records: BOOT, weight: 1 },
  { name: "warn", records: WARN, weight: 1.5 },
  { name: "hung-task", records: HUNG, weight: 1 },
  { name: "oom", records: OOM, weight: 0.5 },
  { name: "panic", records: PANIC, weight: 0 },
  ...CHATTER.map((record, i) => ({
    name: `chatter-${i}`,
    records: [record],
    weight: 96 / CHATTER.length,
  })),
];

export const PANIC_SCRIPT = SCRIPTS.findIndex((s) => s.name === "panic");

/** Kernel releases hosts report (the `r` prefix and sysdata `release`), picked per host. */
export const RELEASES = [
  "6.8.0-45-generic",
  "6.6.52-0_fbk12_rc0_612_g2f0b8b84b5a9",
  "6.9.12",
  "6.11.1-0_fbk0_rc13_509_g30d75cea12f7",
  "6.12.8-200.fc41.x86_64",
  "6.14.0-rc6-01219-g3c027fbd941d",
];
