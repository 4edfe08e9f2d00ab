// Waiting for something a test expects to become true, without sleeping a fixed time.

/** Reads until ok() holds, every 50 ms, at most ms; gives the last value read either way. */
export async function settled<T>(read: () => T | Promise<T>, ok: (t: T) => boolean, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  let v = await read();
  while (!ok(v) && Date.now() < end) {
    await Bun.sleep(50);
    v = await read();
  }
  return v;
}
