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

/** `SYS_futex_waitv`, the same on every architecture (Linux 5.16+). */
const SYS_FUTEX_WAITV = 449n;
const FUTEX_PRIVATE = 128;
const FUTEX2_SIZE_U32 = 0x02;
const CLOCK_MONOTONIC = 1;
const ENOSYS = 38;
/** Bytes of a `struct futex_waitv`. */
const WAITV_SIZE = 24;
/** The most words one `futex_waitv` call waits on. */
export const WAITV_MAX = 128;

/** Whether the kernel has `futex_waitv` (one call waiting on many words). */
export const hasFutexWaitv: boolean = (() => {
  const r = libc.futex_waitv_probe(SYS_FUTEX_WAITV, null, 0, 0, null, 0);
  return !(r === -1n && errno() === ENOSYS);
})();

/**
 * A list of words for {@linkcode futexWaitv}: each with the value it is
 * expected to hold, shared between processes or private to this one.
 */
export class WaitList {
  readonly bytes: Uint8Array = new Uint8Array(WAITV_MAX * WAITV_SIZE);
  readonly #view = new DataView(this.bytes.buffer);

  /** Sets entry `i`: the word at `word`, expected to hold `expected`. */
  set(
    i: number,
    word: Deno.PointerValue,
    expected: number,
    shared: boolean,
  ): void {
    const at = i * WAITV_SIZE;
    const view = this.#view;
    view.setBigUint64(at, BigInt(expected >>> 0), true);
    view.setBigUint64(at + 8, BigInt(Deno.UnsafePointer.value(word)), true);
    view.setUint32(
      at + 16,
      FUTEX2_SIZE_U32 | (shared ? 0 : FUTEX_PRIVATE),
      true,
    );
    view.setUint32(at + 20, 0, true);
  }
}

const now = new BigInt64Array(2);

/**
 * Sleeps on a helper thread while every one of the first `n` words of
 * `list` holds its expected value, at most `ms` milliseconds.
 *
 * @returns the index of the word that was woken, or -1 (a timeout, a
 *   signal, or a word that did not hold its value: look at them all)
 */
export async function futexWaitv(
  list: WaitList,
  n: number,
  ms: number,
): Promise<number> {
  libc.clock_gettime(CLOCK_MONOTONIC, new Uint8Array(now.buffer));
  const ns = now[1] + BigInt(Math.max(0, Math.ceil(ms * 1e6)));
  const ts = new BigInt64Array(2);
  ts[0] = now[0] + ns / 1_000_000_000n;
  ts[1] = ns % 1_000_000_000n;
  const r = await libc.futex_waitv_nb(
    SYS_FUTEX_WAITV,
    list.bytes,
    n,
    0,
    new Uint8Array(ts.buffer),
    CLOCK_MONOTONIC,
  );
  return Number(r);
}

/** Wakes at most `count` sleepers on a word private to this process. */
export function futexWakePrivate(
  word: Deno.PointerValue,
  count: number,
): number {
  const r = Number(
    libc.futex_wake(SYS_FUTEX, word, FUTEX_WAKE | FUTEX_PRIVATE, count),
  );
  if (r === -1) throw osError(errno(), "futex(FUTEX_WAKE_PRIVATE)");
  return r;
}
