// The named stages on packets of their own: what passes, what is dropped, what is changed.
import { describe, expect, test } from "bun:test";
import { stageSchema } from "../../../rules/stages.ts";
import { corrupt } from "./corrupt.ts";
import { dropTcpSyn } from "./drop-tcp-syn.ts";
import { fakeContext } from "./testing.ts";

function run(factory: typeof corrupt | typeof dropTcpSyn, params: any, packets: Uint8Array[], frames = false) {
  const ctx = fakeContext(packets, frames);
  const passed: number[] = [];
  const dropped: number[] = [];
  const st = factory(params, { ...ctx, drop: (s) => dropped.push(s) }, (s) => passed.push(s));
  packets.forEach((_, i) => st.push(i));
  return { passed, dropped, ctx };
}

const tcp = (flags: number) => new Uint8Array([...Array(12).fill(0), 0x08, 0x00, 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
  0, 80, 0x9c, 0x40, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);

describe("named stages", () => {
  test("corrupt every 3rd: one byte flipped in packets 3, 6, 9 (in the middle, or at offset), checksums redone; all pass", () => {
    const packets = Array.from({ length: 10 }, () => new Uint8Array(100).fill(7));
    const r = run(corrupt, { every: 3 }, packets);
    expect(r.passed).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(r.ctx.modifiedSlots).toEqual([2, 5, 8]);
    const changed = packets.map((_, i) => [...r.ctx.bytes.subarray(r.ctx.start(i), r.ctx.start(i) + 100)].findIndex((b) => b !== 7));
    expect(changed).toEqual([-1, -1, 50, -1, -1, 50, -1, -1, 50, -1]);
    const at = run(corrupt, { every: 1, offset: 3 }, [new Uint8Array(10), new Uint8Array(2)]);
    expect([...at.ctx.bytes.subarray(0, 10)].findIndex((b) => b !== 0)).toBe(3);
    expect([...at.ctx.bytes.subarray(10, 12)].findIndex((b) => b !== 0)).toBe(1); // shorter than the offset: the middle
  });

  test("drop-tcp-syn on frames: the SYN goes, SYN-ACK, ACK and RST pass; a rule's payloads all pass", () => {
    const frames = [tcp(0x02), tcp(0x12), tcp(0x10), tcp(0x04), new Uint8Array(20)];
    expect(run(dropTcpSyn, {}, frames, true)).toMatchObject({ passed: [1, 2, 3, 4], dropped: [0] });
    expect(run(dropTcpSyn, {}, frames, false)).toMatchObject({ passed: [0, 1, 2, 3, 4], dropped: [] });
  });

  test("a stage is named alone or with its parameters; bad ones name the field", () => {
    expect(stageSchema.parse("drop-odd-size")).toBe("drop-odd-size");
    expect(stageSchema.parse({ name: "corrupt", every: 1000 })).toEqual({ name: "corrupt", every: 1000 });
    expect(stageSchema.safeParse({ name: "corrupt", every: 0 }).error?.issues[0]).toMatchObject({ path: ["every"], message: "every must be 1 or more" });
    expect(stageSchema.safeParse({ name: "corrupt", every: 5, colour: 1 }).success).toBe(false);
    expect(stageSchema.safeParse("no-such-stage").success).toBe(false);
  });
});
