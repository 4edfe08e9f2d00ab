// IPv4 addresses as host-order unsigned numbers: what the packet parser compares against.

export function parseIpv4(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255 || (m[i].length > 1 && m[i][0] === "0")) return null;
    v = v * 256 + o;
  }
  return v >>> 0;
}

export function formatIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

export function isMulticast(v: number): boolean {
  return v >>> 28 === 0xe;
}

/** Addresses a relay can never send to: 0.0.0.0/8, 127/8, the limited broadcast, 240/4. */
export function isUsableUnicast(v: number): boolean {
  const top = v >>> 24;
  return top !== 0 && top !== 127 && v >>> 28 !== 0xf && !isMulticast(v);
}
