// copySum against the definition (RFC 1071, byte by byte), at every alignment and odd lengths.
import { expect, test } from "bun:test";
import { ptr } from "bun:ffi";
import { copySum } from "./sys.ts";
import { fold } from "../services/ingress/parse.ts";
test("copySum equals a byte-wise RFC 1071 sum and copies", () => {
  for (const n of [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 1471, 1472, 8972]) {
    const src = new Uint8Array(n + 3); for (let i = 0; i < src.length; i++) src[i] = (i * 151 + 7) & 255;
    for (const off of [0, 1, 3]) {
      const dst = new Uint8Array(n + 1);
      const got = copySum(ptr(dst) as unknown as number, (ptr(src) as unknown as number) + off, n);
      let s = 0; for (let i = 0; i < n; i += 2) s += (src[off + i] << 8) | (i + 1 < n ? src[off + i + 1] : 0);
      expect(got).toBe(fold(s));
      expect([...dst.subarray(0, n)]).toEqual([...src.subarray(off, off + n)]);
    }
  }
});
