// The classic pcap file format with nanosecond time stamps (magic 0xa1b23c4d), Ethernet frames:
// what tcpdump -r, Wireshark and tshark read. Little-endian, as the magic says to readers.
export const SNAPLEN = 65_535 + 18;
const LINKTYPE_ETHERNET = 1;

/** The file's 24-byte header. */
export function pcapHeader(): Uint8Array {
  const b = new Uint8Array(24);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0xa1b23c4d, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setInt32(8, 0, true); // thiszone
  v.setUint32(12, 0, true); // sigfigs
  v.setUint32(16, SNAPLEN, true);
  v.setUint32(20, LINKTYPE_ETHERNET, true);
  return b;
}

/** One record's 16-byte header, written into out at offset o (the frame's bytes follow it). */
export function pcapRecord(out: DataView, o: number, sec: number, nsec: number, captured: number, wire: number): void {
  out.setUint32(o, sec >>> 0, true);
  out.setUint32(o + 4, nsec >>> 0, true);
  out.setUint32(o + 8, captured, true);
  out.setUint32(o + 12, Math.max(wire, captured), true);
}
