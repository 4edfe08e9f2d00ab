// The interfaces this network namespace has, as the operator would want to see them.
import { readdirSync, readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import type { InterfaceInfo } from "../protocol/control.ts";
import type { Plan } from "./plan.ts";

const read = (name: string, f: string) => {
  try {
    return readFileSync(`/sys/class/net/${name}/${f}`, "utf8").trim();
  } catch {
    return "";
  }
};

export function listInterfaces(plan: Plan): InterfaceInfo[] {
  const addrs = networkInterfaces();
  const names = new Set(readdirSync("/sys/class/net"));
  for (const r of plan.rules) for (const n of [r.ifname, ...r.outputs.map((o) => o.ifname)]) names.add(n);
  return [...names].sort().map((name) => {
    const uses = plan.rules.filter((r) => r.ifname === name || r.outputs.some((o) => o.ifname === name));
    const exists = read(name, "ifindex") !== "";
    return {
      name,
      ifindex: exists ? Number(read(name, "ifindex")) : 0,
      state: exists ? read(name, "operstate") : "missing",
      mtu: exists ? Number(read(name, "mtu")) : 0,
      addresses: (addrs[name] ?? []).filter((a) => a.family === "IPv4").map((a) => a.cidr ?? a.address),
      rules: uses.map((r) => r.id),
      waiting: uses.filter((r) => r.state === "waiting").map((r) => r.id),
    };
  });
}
