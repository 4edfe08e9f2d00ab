// packet.c's copy queue on a real AF_PACKET socket (lo of a namespace the test made): frames
// bigger than a V2 ring's frame are cut there and taken whole from the socket, in ring order; a
// queued copy that is not the ring frame's (a resumed ingress) is left for its own frame.
import { afterAll, expect, test } from "bun:test";
import { Lab } from "../lab/netns.ts";
import { BUN, ROOT, collect } from "../tests/lib/relay.ts";

const lab = Lab.create("cpq");
const ns = lab.ns("q");
afterAll(() => lab.destroy());

test("a frame cut in a V2 ring is taken whole from the socket's queue; another frame's copy is refused (ESTALE) and left", async () => {
  const p = lab.spawn(ns, [BUN, "tests/tools/copy-queue.ts"], { cwd: ROOT });
  const out = collect(p.stdout);
  const err = collect(p.stderr);
  await p.exited;
  await out.done;
  await err.done;
  expect({ code: p.exitCode, err: err.text() }).toEqual({ code: 0, err: "" });
  const got = JSON.parse(out.text());
  // macoff: the V2 header, sockaddr_ll and the vnet header before the frame (76 bytes of 2,048).
  expect(got.frames).toEqual([1, 2, 3].map(() => ({ snap: 2048 - 76, wireLen: 4000, copy: true })));
  expect(got.takes).toEqual([
    { got: 4010, whole: true },
    { got: "ESTALE", whole: false },
    { got: 4010, whole: false },
    { got: 4010, whole: true },
    { got: "EAGAIN", whole: false },
  ]);
});
