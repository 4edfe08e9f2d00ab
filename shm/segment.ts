// Creating, mapping and naming the shared-memory segment of one relay instance.
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { shmCreate, shmMap, shmOpen, shmUnlink } from "../c/sys.ts";
import { computeLayout, readHeader, writeHeader, type Layout, type LayoutParams } from "./layout.ts";

/** /dev/shm/<name>: derived from the state directory, so tools find it without asking. */
export function segmentName(stateDir: string): string {
  const h = createHash("sha256").update(resolve(stateDir)).digest("hex").slice(0, 12);
  return `mcrelay-${h}`;
}

export interface Segment {
  name: string;
  fd: number;
  addr: number;
  buf: ArrayBuffer;
  layout: Layout & { supervisorPid?: number };
}

export function createSegment(name: string, params: LayoutParams): Segment {
  const layout = computeLayout(params);
  const fd = shmCreate(name, layout.size);
  const { addr, buf } = shmMap(fd, layout.size, true);
  writeHeader(buf, layout, process.pid);
  return { name, fd, addr, buf, layout };
}

/** Maps a segment from an fd handed over by the supervisor (workers) or opened by name (tools). */
export function mapSegment(fd: number, size: number, writable: boolean, name = ""): Segment {
  const { addr, buf } = shmMap(fd, size, writable);
  const layout = readHeader(buf);
  return { name, fd, addr, buf, layout };
}

/**
 * Opens a segment by name, for reading. `atomics`: the reader uses Atomics on it (the trace ring's
 * seqlock), so it is mapped writable although nothing is written: JavaScriptCore's optimised code
 * does an Atomics.load with a locked instruction, which faults on a read-only page (a reader
 * crashed after ~2,000 reads once its loop was compiled).
 */
export function openSegment(name: string, atomics = false): Segment & { layout: { supervisorPid: number } } {
  const fd = shmOpen(name, atomics);
  // Map the header first to learn the size.
  const head = mapSegment(fd, 4096, false, name);
  return mapSegment(fd, head.layout.size, atomics, name) as Segment & { layout: { supervisorPid: number } };
}

export function removeSegment(name: string): void {
  shmUnlink(name);
}
