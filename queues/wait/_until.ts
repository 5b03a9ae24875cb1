// What a wait ends on besides what it waits for: a deadline (from a
// \`timeout\` option), an abort signal, and the close of a queue handle.

import type { WaitGroup } from "./_entry.ts";

/**
 * The longest sleep on a lock's word: its waiters look this often whether
 * the holder died. Also how often an fd wait looks at its \`ready()\`.
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

/** What else ends a wait: a deadline, a signal, the close of a handle. */
export interface Until {
  /** On `performance.now()`; `Infinity` for none. */
  readonly deadline: number;
  readonly signal?: AbortSignal;
  /** The waits of one queue handle, woken together by its `close()`. */
  readonly group?: WaitGroup;
}

/** A wait of one step: `Until` with a deadline at most `ms` away. */
export function within(until: Until, ms: number): Until {
  const deadline = Math.min(until.deadline, performance.now() + ms);
  return { deadline, signal: until.signal, group: until.group };
}

/**
 * Waits until `attempt()` succeeds, sleeping with `sleep` between tries.
 * Before each try `check` may throw (a closed queue) and the signal is
 * honoured.
 *
 * @returns true on success, false when the deadline passed first
 */
export async function waitFor(
  attempt: () => boolean,
  sleep: (until: Until) => Promise<unknown>,
  until: Until,
  check: () => void,
): Promise<boolean> {
  for (;;) {
    check();
    until.signal?.throwIfAborted();
    if (attempt()) return true;
    if (until.deadline <= performance.now()) return false;
    await sleep(until);
  }
}

/** No deadline, no signal, no group. */
export const FOREVER: Until = { deadline: Infinity };

/**
 * Resolves after `ms` on a timer that does not keep the process alive (a
 * write this process may exit without).
 */
export function sleepUnref(ms: number): Promise<void> {
  return new Promise((resolve) => Deno.unrefTimer(setTimeout(resolve, ms)));
}
