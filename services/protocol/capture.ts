// Packet capture of one rule or link (GET /api/v1/{rules,links}/{id}/capture, `mcrelay capture`):
// what may be asked, and what the supervisor hands the capture process. The supervisor opens a
// capture socket per interface (capture.c); a process of the relay user reads them, keeps the
// rule's frames and writes a pcap into a FIFO the API streams to the client.
import { z } from "zod";

export const CAPTURE_DIRECTIONS = ["received", "sent", "both"] as const;
export type CaptureDirection = (typeof CAPTURE_DIRECTIONS)[number];

/** The query of a capture: the next `count` packets, for at most `seconds`. */
export const captureQuerySchema = z.object({
  count: z.coerce.number().int().min(1).max(100_000).default(100).describe("packets to capture, then the capture ends"),
  seconds: z.coerce.number().int().min(1).max(3600).default(10).describe("the capture ends after this long even if fewer packets came"),
  direction: z.enum(CAPTURE_DIRECTIONS).default("received")
    .describe("received: the frames of the rule's input (a link's frames arriving at a and b); sent: what the relay sent for it (on the outputs' interfaces, or a link's ends); both"),
});
export type CaptureQuery = z.infer<typeof captureQuerySchema>;

/** Which frames of one capture socket are kept. Absent match: all of them (a link carries everything). */
export interface CaptureMatch {
  family: 4 | 6;
  /** the destination: IPv4 as a u32, IPv6 as its ipv6Key (as ingress's parse gives them) */
  dst: number;
  /** absent for another protocol than UDP */
  dport?: number;
  protocol: number;
  src?: number;
  /** 0: untagged only; absent: either */
  vlan?: number;
}

export interface CaptureSource {
  /** fd number in the capture process (3, 4, …) */
  fd: number;
  ifname: string;
  /** received: frames arriving on the interface; sent: frames leaving it */
  direction: "received" | "sent";
  /** any of these (none: every frame) */
  matches: CaptureMatch[] | null;
}

/** The capture process's instructions (its one argument, as JSON). */
export interface CaptureSpec {
  fifo: string;
  count: number;
  seconds: number;
  sources: CaptureSource[];
}
