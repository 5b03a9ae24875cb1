// Private helpers of the queues layer: deadlines, waiting in slices, names.

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

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

/** A random string of `length` characters from `[a-z0-9]` (crypto-strong). */
export function randomId(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let s = "";
  for (const b of bytes) s += ALPHABET[b % ALPHABET.length];
  return s;
}
