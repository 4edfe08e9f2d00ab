// Turns an interface's offload on or off, run inside a test's namespace:
//   bun lab/offload.ts --interface out0 --feature tx --off
// (tx off: the kernel computes UDP checksums before a frame leaves, so a capture can check them.)
import { parseArgs } from "node:util";
import { setOffload, type Offload } from "../c/ethtool.ts";

const { values: v } = parseArgs({ options: { interface: { type: "string" }, feature: { type: "string" }, off: { type: "boolean", default: false } } });
setOffload(v.interface!, v.feature as Offload, !v.off);
