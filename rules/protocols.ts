// IP protocols by name, for link flows (which frames a flow takes) and rule inputs (what a rule
// relays: UDP datagrams by default, or another protocol's IP payloads whole, e.g. ESP).
import { z } from "zod";

/** IP protocol numbers of the names a rule or a flow may use. */
export const PROTOCOLS = { icmp: 1, igmp: 2, tcp: 6, udp: 17, gre: 47, esp: 50, ah: 51, icmpv6: 58, sctp: 132 } as const;
export type ProtocolName = keyof typeof PROTOCOLS;

export const UDP = PROTOCOLS.udp;

const NAMES = Object.keys(PROTOCOLS) as [ProtocolName, ...ProtocolName[]];

/** A protocol as written: a name of PROTOCOLS or a number 0–255. */
export const protocolSchema = z.union([z.enum(NAMES), z.number().int().min(0).max(255)],
  { error: `protocol must be one of ${NAMES.map((n) => `"${n}"`).join(", ")} or a number 0–255` });

/** The protocol's number; absent is UDP. */
export function protocolNumber(p: ProtocolName | number | undefined): number {
  return p === undefined ? UDP : typeof p === "number" ? p : PROTOCOLS[p];
}

/** The protocol's name if it has one, else its number as text. */
export function protocolName(n: number): string {
  return (Object.entries(PROTOCOLS).find(([, v]) => v === n)?.[0]) ?? String(n);
}
