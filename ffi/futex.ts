/**
 * Futexes on shared memory (`MAP_SHARED`, so they work across processes):
 * sleep until a 32-bit word changes, and wake its sleepers.
 *
 * @module
 */

import { errno, libc, osError } from "./libc.ts";

/** The `futex` syscall's number (`SYS_futex`): 202 on x86_64, 98 on aarch64. */
const SYS_FUTEX = Deno.build.arch === "aarch64" ? 98n : 202n;
const FUTEX_WAIT = 0;
const FUTEX_WAKE = 1;

/**
 * Sleeps on a helper thread while the 32-bit word at `word` holds
 * `expected`, at most `ms` milliseconds. Returns at once if it holds
 * something else; a wake, a timeout or a signal also end it (which one is
 * not reported: callers look at the word again).
 */
export async function futexWait(
  word: Deno.PointerValue,
  expected: number,
  ms: number,
): Promise<void> {
  const ms_ = Math.max(0, Math.ceil(ms));
  const ts = new BigInt64Array(2);
  ts[0] = BigInt(Math.floor(ms_ / 1000));
  ts[1] = BigInt((ms_ % 1000) * 1_000_000);
  await libc.futex_wait_nb(
    SYS_FUTEX,
    word,
    FUTEX_WAIT,
    expected | 0,
    new Uint8Array(ts.buffer),
  );
}

/**
 * Wakes at most `count` sleepers on the word at `word` (in any process).
 *
 * @returns how many were woken
 */
export function futexWake(word: Deno.PointerValue, count: number): number {
  const r = Number(libc.futex_wake(SYS_FUTEX, word, FUTEX_WAKE, count));
  if (r === -1) throw osError(errno(), "futex(FUTEX_WAKE)");
  return r;
}
