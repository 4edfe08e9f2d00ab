// Sorting perf samples into "who" (process role) and "where" (JavaScript, Bun, C, libc, kernel subsystem).

export interface Sample {
  pid: number;
  comm: string;
  sym: string;
  dso: string;
}

/** Kernel symbols by subsystem; the first match wins, so the receive-side names come before udp_/ip_. */
const STAGES: [string, RegExp][] = [
  ["kernel: AF_PACKET receive (ring copy, fanout, filter)", /^(tpacket_|packet_|prb_|__packet|fanout|run_filter|bpf_|sk_filter)/],
  ["kernel: UDP/IP receive (the next hop's socket)", /(_rcv|_deliver|__udp4_lib_lookup|__udp4_lib_mcast|enqueue_schedule|sock_def_readable|udp_rmem|skb_set_owner_r|sock_queue_rcv)/],
  ["kernel: UDP/IP send", /^(udp_|__udp|ip_|__ip_|ip4_|ipv4_|fib|__fib|__mkroute|rt_|dst_|neigh|__neigh|csum|sock_alloc_send|__sock_|sock_|inet_|__inet|__sys_send|sys_send|____sys_send|___sys_send)/],
  ["kernel: veth, skb and net core", /^(veth_|__netif|netif_|__dev_|dev_|net_rx|process_backlog|__napi|napi_|__skb|skb_|kfree_skb|consume_skb|__kfree_skb|__alloc_skb|alloc_skb|validate_xmit|sch_direct|__qdisc|qdisc|eth_|gro_|__build_skb|__copy_skb|pskb|__pskb|nf_|__nf_)/],
  ["kernel: io_uring", /^(io_|__io_)/],
  ["kernel: copies", /(copy_user|memcpy|memmove|memset|rep_mov|rep_stos|_copy_to|_copy_from|copy_page|clear_page|__get_user|__put_user|copyin|copyout)/],
  ["kernel: memory (slab, pages)", /^(kmem_cache|__kmem|kmalloc|__kmalloc|kfree|slab|__slab|___slab|page_|__page|alloc_pages|free_pages|__free|rmqueue|get_page|__rmqueue|free_unref|mod_objcg|obj_cgroup|__memcg|memcg|refill_obj)/],
  ["kernel: sleep, wake-up, syscall entry", /(futex|schedule|pick_next|finish_task_switch|try_to_wake|ttwu|enqueue_|dequeue_|update_curr|update_load|hrtimer|poll|syscall|entry_SYSCALL|__x64_sys|irqentry|ret_from|psi_|cpuacct|rcu_|sched|__switch_to|switch_mm|select_task|wake_up|__wake|balance|idle|halt|restore_regs|fpregs|fpu|clock|ktime|timer|tick)/],
  ["kernel: softirq and irq entry", /(softirq|irq_exit|__local_bh|local_bh|irq)/],
];

export function kernelStage(sym: string): string {
  for (const [name, re] of STAGES) if (re.test(sym)) return name;
  return "kernel: other";
}

/** Where the sample's code lives. */
export function where(s: Sample, stage: (sym: string) => string): string {
  if (s.dso.includes("kernel")) return stage(s.sym);
  if (s.dso.includes("libmcrelay")) return "mcrelay C (libmcrelay.so)";
  if (s.dso.includes("liburing")) return "liburing";
  if (/lib(c|m|pthread)[.-]|ld-linux/.test(s.dso)) return "libc";
  if (/\/bun$/.test(s.dso) && s.sym !== "[unknown]") return "Bun runtime (FFI calls, GC, event loop)";
  return "JavaScript (JIT-compiled code)";
}

/** Who: the relay's own processes by role, the bench's known processes, idle, the rest by name. */
export function who(s: Sample, roles: Map<number, string>): string {
  const r = roles.get(s.pid);
  if (r) return r;
  if (s.comm === "swapper") return "idle";
  if (s.comm.startsWith("ksoftirqd")) return "ksoftirqd";
  return `other (${s.comm.replace(/\/\d+.*$/, "")})`;
}

const RELAY = new Set(["ingress", "egress", "supervisor", "api"]);
const isRelay = (role: string) => RELAY.has(role.split(" ")[0]!);

/** Markdown: time per packet by process; inside the relay by code location; the top kernel symbols. */
export function tabulate(samples: Sample[], roles: Map<number, string>, stage: (sym: string) => string, usPerSampleAndPacket: number): string {
  const count = <K>(keys: K[]) => {
    const m = new Map<K, number>();
    for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
    return [...m].sort((x, y) => y[1] - x[1]);
  };
  const us = (n: number) => (n * usPerSampleAndPacket).toFixed(2);
  const pct = (n: number, of: number) => ((100 * n) / of).toFixed(1);
  const out: string[] = [];

  const byWho = count(samples.map((s) => who(s, roles)));
  const busy = samples.length - (byWho.find(([k]) => k === "idle")?.[1] ?? 0);
  out.push("| process | µs per packet | share of busy CPU % |", "|---|--:|--:|");
  for (const [k, n] of byWho) out.push(`| ${k} | ${us(n)} | ${k === "idle" ? "—" : pct(n, busy)} |`);
  const relayN = samples.filter((s) => isRelay(who(s, roles))).length;
  out.push(`| **mcrelay, all processes** | **${us(relayN)}** | ${pct(relayN, busy)} |`, "");

  const relayRoles = byWho.map(([k]) => k).filter(isRelay);
  for (const role of relayRoles) {
    const mine = samples.filter((s) => who(s, roles) === role);
    out.push(`**${role}** (${us(mine.length)} µs per packet)`, "", "| where | µs per packet | share % |", "|---|--:|--:|");
    for (const [k, n] of count(mine.map((s) => where(s, stage)))) {
      if (n * usPerSampleAndPacket < 0.005) continue;
      out.push(`| ${k} | ${us(n)} | ${pct(n, mine.length)} |`);
    }
    const syms = count(mine.filter((s) => s.dso.includes("kernel") || s.dso.includes("libmcrelay")).map((s) => s.sym)).slice(0, 8);
    out.push("", `Top symbols: ${syms.map(([sym, n]) => `\`${sym}\` ${us(n)}`).join(", ")}.`, "");
  }
  return out.join("\n");
}
