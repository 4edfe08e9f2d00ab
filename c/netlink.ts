// Typed wrapper of netlink.c, and the parsing of what it reads (link and address events).
import { dlopen, FFIType as T, ptr } from "bun:ffi";
import { E, check, libPath } from "./lib.ts";

const { symbols: C } = dlopen(libPath(), {
  mr_netlink_open: { args: [], returns: T.i32 },
  mr_netlink_read: { args: [T.i32, T.ptr, T.u32], returns: T.i32 },
});

export interface LinkEvent {
  kind: "newlink" | "dellink" | "newaddr" | "deladdr";
  ifindex: number;
  ifname?: string;
  /** IFF_UP and IFF_RUNNING (carrier) for link events */
  up?: boolean;
}

const RTM = { 16: "newlink", 17: "dellink", 20: "newaddr", 21: "deladdr" } as const;
const IFLA_IFNAME = 3;
const IFA_LABEL = 3;

export function netlinkOpen(): number {
  return check(C.mr_netlink_open(), "netlink socket");
}

const buf = new Uint8Array(1 << 16);
const dv = new DataView(buf.buffer);

/** Every event waiting now; "overrun" when the kernel had to drop some. */
export function netlinkRead(fd: number): LinkEvent[] | "overrun" {
  const events: LinkEvent[] = [];
  for (;;) {
    const n = C.mr_netlink_read(fd, ptr(buf), buf.length);
    if (n === -E.EAGAIN) return events;
    if (n === -E.ENOBUFS) return "overrun";
    check(n, "netlink read");
    for (let o = 0; o + 16 <= n; ) {
      const len = dv.getUint32(o, true);
      const type = dv.getUint16(o + 4, true) as keyof typeof RTM;
      if (len < 16) break;
      const kind = RTM[type];
      if (kind) {
        const body = o + 16;
        const isLink = type === 16 || type === 17;
        const ev: LinkEvent = { kind, ifindex: isLink ? dv.getInt32(body + 4, true) : dv.getUint32(body + 4, true) };
        if (isLink) {
          const flags = dv.getUint32(body + 8, true);
          ev.up = (flags & 0x1) !== 0 && (flags & 0x40) !== 0;
        }
        const want = isLink ? IFLA_IFNAME : IFA_LABEL;
        for (let a = body + (isLink ? 16 : 8); a + 4 <= o + len; ) {
          const alen = dv.getUint16(a, true);
          if (alen < 4) break;
          if (dv.getUint16(a + 2, true) === want) ev.ifname = new TextDecoder().decode(buf.subarray(a + 4, a + alen)).replace(/\0.*$/, "");
          a += (alen + 3) & ~3;
        }
        events.push(ev);
      }
      o += (len + 3) & ~3;
    }
  }
}
