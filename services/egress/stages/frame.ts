// Reading an Ethernet frame in place, for stages that look inside a link's frames.

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_ACK = 0x10;

/** Where the frame's IP header starts (past VLAN tags), and its version: [offset, 4 | 6], or [-1, 0]. */
export function ipAt(b: Uint8Array, start: number, len: number): [number, number] {
  let l3 = start + 14;
  const end = start + len;
  if (l3 > end) return [-1, 0];
  let et = (b[start + 12] << 8) | b[start + 13];
  while ((et === 0x8100 || et === 0x88a8) && l3 + 4 <= end) {
    et = (b[l3 + 2] << 8) | b[l3 + 3];
    l3 += 4;
  }
  if (et === 0x0800 && l3 + 20 <= end) return [l3, 4];
  if (et === 0x86dd && l3 + 40 <= end) return [l3, 6];
  return [-1, 0];
}

/** The TCP flags byte of a frame carrying TCP (IPv4, or IPv6 without extension headers), or -1. */
export function tcpFlags(b: Uint8Array, start: number, len: number): number {
  const [l3, v] = ipAt(b, start, len);
  const end = start + len;
  let l4: number;
  if (v === 4) {
    if (b[l3 + 9] !== 6 || (((b[l3 + 6] & 0x1f) << 8) | b[l3 + 7]) !== 0) return -1;
    l4 = l3 + (b[l3] & 15) * 4;
  } else if (v === 6) {
    if (b[l3 + 6] !== 6) return -1;
    l4 = l3 + 40;
  } else return -1;
  return l4 + 14 <= end ? b[l4 + 13] : -1;
}
