// Private helpers of the queues layer: deadlines, waiting in slices, sleeping
// on a word of shared memory.

import { futexWait } from "../ffi/futex.ts";

/**
 * The longest single sleep of a waiting call. A wait runs as a series of
 * awaited FFI waits no longer than this, so `close()`, a timeout or an abort
 * takes effect within one slice and no FFI call stays pending after a close.
 */
export const SLICE_MS = 50;

/** Options shared by every waiting call. */
export interface WaitOptions {
  block?: boolean;
  timeout?: number;
  signal?: AbortSignal;
}

/** Converts a `timeout` option (ms) to a deadline on `performance.now()`. */
export function deadlineOf(options: WaitOptions | undefined): number {
  if (options === undefined) return Infinity;
  if (options.block === false) return -Infinity;
  const { timeout } = options;
  if (timeout === undefined || timeout === Infinity) return Infinity;
  if (typeof timeout !== "number" || Number.isNaN(timeout)) {
    throw new RangeError(
      `Timeout must be a number of milliseconds, got ${String(timeout)}`,
    );
  }
  return timeout <= 0 ? -Infinity : performance.now() + timeout;
}

/** Milliseconds left before `deadline`, capped at one slice. */
export function sliceUntil(deadline: number): number {
  if (deadline === Infinity) return SLICE_MS;
  const left = deadline - performance.now();
  return left <= 0 ? 0 : left < SLICE_MS ? left : SLICE_MS;
}

/**
 * Runs `attempt` (synchronous, cheap) and, while it fails, awaits `sleep` for
 * at most one slice; `sleep` resolves true when it itself succeeded. Before
 * each attempt `check` may throw (closed queue) and the signal is honoured.
 *
 * @returns true on success, false when `deadline` passed first
 */
export async function waitFor(
  attempt: () => boolean,
  sleep: (ms: number) => Promise<boolean>,
  deadline: number,
  signal: AbortSignal | undefined,
  check: () => void,
): Promise<boolean> {
  for (;;) {
    check();
    signal?.throwIfAborted();
    if (attempt()) return true;
    const ms = sliceUntil(deadline);
    if (ms <= 0) return false;
    if (await sleep(ms)) return true;
  }
}

/**
 * Sleeps on a helper thread (a futex) on the shared word `page[slot]` until
 * `ready(value)` is true, at most `ms`; counts itself in `page[sleepers]`
 * meanwhile, so that a waker knows to wake. `ready` may take what it waits
 * for (a compare-and-swap); if it fails because the word changed, the word
 * is looked at again before sleeping.
 *
 * @returns whether `ready` came true in time
 */
export async function sleepOn(
  page: Int32Array,
  slot: number,
  sleepers: number,
  word: Deno.PointerValue,
  ms: number,
  ready: (value: number) => boolean,
): Promise<boolean> {
  const deadline = performance.now() + ms;
  Atomics.add(page, sleepers, 1);
  try {
    for (;;) {
      const value = Atomics.load(page, slot);
      if (ready(value)) return true;
      if (Atomics.load(page, slot) !== value) continue;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await futexWait(word, value, left);
    }
  } finally {
    Atomics.sub(page, sleepers, 1);
  }
}
