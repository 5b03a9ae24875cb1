// Shared test helpers: timeouts, workers, timing. Helpers that look at the
// operating system (fds, /dev/shm, /proc) are in _sys.ts.

/** The default guard for a test that can block. */
export const TEST_TIMEOUT_MS = 60_000;

/**
 * Settles like `promise`, or rejects with an `Error` naming `what` after `ms`
 * milliseconds. The timer is always cleared (test sanitizers stay happy).
 */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${ms} ms: ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Registers a `Deno.test` whose body is guarded by {@linkcode withTimeout}
 * (default {@linkcode TEST_TIMEOUT_MS}).
 */
export function guardedTest(
  name: string,
  fn: () => void | Promise<void>,
  ms: number = TEST_TIMEOUT_MS,
): void {
  Deno.test(name, () => withTimeout(Promise.resolve().then(fn), ms, name));
}

/** The URL of a worker module in `tests/workers/`. */
export function workerUrl(name: string): URL {
  return new URL(`./workers/${name}`, import.meta.url);
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether `promise` is still pending after `ms` milliseconds. */
export async function pendingAfter(
  promise: Promise<unknown>,
  ms: number,
): Promise<boolean> {
  const marker = Symbol("pending");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<symbol>((resolve) => {
    timer = setTimeout(() => resolve(marker), ms);
  });
  try {
    const r = await Promise.race([promise.then(() => null, () => null), late]);
    return r === marker;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Counts the warnings written with `console.warn` that contain `text`
 * (others pass through) until `restore()`.
 */
export function countWarnings(
  text: string,
): { count(): number; restore(): void } {
  const warn = console.warn;
  let warnings = 0;
  console.warn = (...args: unknown[]) => {
    if (String(args[0]).includes(text)) warnings++;
    else warn(...args);
  };
  return { count: () => warnings, restore: () => (console.warn = warn) };
}

/** Counts the torn-frame warnings (see {@linkcode countWarnings}). */
export function countTornWarnings(): { count(): number; restore(): void } {
  return countWarnings("discarded a torn frame");
}

/** A small seeded PRNG (mulberry32), for the fuzz tests. */
// deno-lint-ignore explicit-module-boundary-types
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return {
    next,
    int,
    range: (lo: number, hi: number): number => lo + int(hi - lo + 1),
    pick: <T>(xs: readonly T[]): T => xs[int(xs.length)],
    chance: (p: number): boolean => next() < p,
    bytes: (n: number): Uint8Array => {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = int(256);
      return b;
    },
  };
}
/** The generator {@linkcode rng} returns. */
export type Rng = ReturnType<typeof rng>;
