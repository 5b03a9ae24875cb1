// A fresh shared page for the unit tests of the native rooms.

import { SharedMemory } from "../../ffi/shm.ts";
import { SHARED_BYTES, SharedPage } from "../../queues/native/_layout.ts";

/** Above pid_max: never a live process. */
export const DEAD_PID = 2 ** 22 + 4321;

/** Runs `fn` with a zeroed shared page, then unmaps it. */
export async function withPage(
  fn: (page: SharedPage) => void | Promise<void>,
): Promise<void> {
  const shm = SharedMemory.create(SHARED_BYTES);
  try {
    await fn(new SharedPage(shm.buffer, (o) => shm.address(o)));
  } finally {
    shm.close();
  }
}

/** Milliseconds `promise` takes to settle, and how. */
export async function timed<T>(
  promise: Promise<T>,
): Promise<{ ms: number; value?: T; error?: unknown }> {
  const t0 = performance.now();
  try {
    const value = await promise;
    return { ms: performance.now() - t0, value };
  } catch (error) {
    return { ms: performance.now() - t0, error };
  }
}
