// The topology most end-to-end tests use:
//   src (10.99.1.2) --veth-- [in0 192.168.50.1] relay [out0 10.77.0.1] --veth-- dst (10.77.0.2)
// The relay has no route back to the source, and the receiver namespace allows 8 MiB buffers.
import { Lab } from "../../lab/netns.ts";

export interface RelayTopology {
  lab: Lab;
  src: string;
  relay: string;
  dst: string;
}

/** outputChecksums: the kernel completes the checksums of what the relay's sockets send (tx
 *  offload off on out0), so a capture in dst can check both send paths' checksums. */
export function relayTopology(tag: string, opts: { inputMtu?: number; outputChecksums?: boolean } = {}): RelayTopology {
  const lab = Lab.create(tag);
  const src = lab.ns("src");
  const relay = lab.ns("rly");
  const dst = lab.ns("dst");
  lab.veth({ ns: src, ifname: "eth0", addr: "10.99.1.2/24", mtu: opts.inputMtu }, { ns: relay, ifname: "in0", addr: "192.168.50.1/24", mtu: opts.inputMtu });
  lab.veth({ ns: relay, ifname: "out0", addr: "10.77.0.1/24" }, { ns: dst, ifname: "eth0", addr: "10.77.0.2/24" });
  if (opts.outputChecksums) lab.offload(relay, "out0", "tx", false);
  lab.sh(src, ["ip", "route", "add", "224.0.0.0/4", "dev", "eth0"]);
  // A new namespace caps receive buffers at ~208 KiB; the sinks ask for 8 MiB.
  lab.sysctl(dst, "net.core.rmem_max", String(8 << 20));
  return { lab, src, relay, dst };
}
