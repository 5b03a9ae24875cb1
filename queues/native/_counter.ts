// A counting semaphore shared by the processes of a queue: a word of shared
// memory with a futex to sleep on. Taking and giving back `n` are single
// atomic operations, so a process killed at any moment leaves the count
// exact (a named POSIX semaphore can only be posted one at a time).

import type { Counter } from "../_transport.ts";
import type { Until } from "../wait/_until.ts";
import { SharedWord } from "../wait/_words.ts";
import type { SharedPage } from "./_layout.ts";
import { MAXSIZE_MAX } from "../_options.ts";

/** The largest value of a counter (the largest `maxsize`). */
export const COUNTER_MAX = MAXSIZE_MAX;
/** How often a waiter looks again with nothing woken (a dead producer's slots). */
const COUNTER_SLICE_MS = 250;

/**
 * A counter on `page.i32[slot]`, with its sleepers counted in
 * `page.i32[sleepers]` (by default the next word), never above `ceiling`.
 */
export class FutexCounter implements Counter {
  readonly #page: Int32Array;
  readonly #i64: BigInt64Array;
  readonly #slot: number;
  readonly #ceiling: number;
  readonly #word: SharedWord;

  /**
   * @param page the shared page
   * @param slot the Int32 index of the value
   * @param sleepers the Int32 index counting sleepers
   * @param ceiling the largest value (a give-back beyond it is a bug: clamped)
   */
  constructor(
    page: SharedPage,
    slot: number,
    sleepers = slot + 1,
    ceiling = COUNTER_MAX,
  ) {
    this.#page = page.i32;
    this.#i64 = page.i64;
    this.#slot = slot;
    this.#ceiling = ceiling;
    this.#word = new SharedWord(
      page.i32,
      slot,
      sleepers,
      page.address(slot),
      COUNTER_SLICE_MS,
    );
  }

  /** Sets the value (the creator, before anyone else uses it). */
  init(value: number): void {
    Atomics.store(this.#page, this.#slot, value);
  }

  /** The current value. */
  value(): number {
    return Math.max(0, Atomics.load(this.#page, this.#slot));
  }

  /**
   * Takes up to `n` at once: as many as the value allows. Taking the last
   * wakes those waiting for zero.
   *
   * @returns how many were taken
   */
  tryTake(n: number): number {
    const page = this.#page;
    for (;;) {
      const v = Atomics.load(page, this.#slot);
      if (v <= 0) return 0;
      const take = Math.min(v, n);
      if (Atomics.compareExchange(page, this.#slot, v, v - take) !== v) {
        continue;
      }
      if (take === v) this.#word.wake(COUNTER_MAX);
      return take;
    }
  }

  /**
   * Gives back `n` in one step (never above the ceiling), waking up to `n`
   * takers.
   */
  post(n: number): void {
    const page = this.#page;
    for (;;) {
      const v = Atomics.load(page, this.#slot);
      const next = Math.min(v + n, this.#ceiling);
      if (Atomics.compareExchange(page, this.#slot, v, next) === v) break;
    }
    this.#word.wake(n);
  }

  /**
   * Gives back `n` and stores `tag` in the word's other half (the counter
   * must sit in the low half of an aligned 64-bit word), in one
   * compare-and-swap: what the give-back stands for is recorded with it.
   */
  postTagged(n: number, tag: number): void {
    const i64 = this.#i64;
    const at = this.#slot >> 1;
    const high = BigInt(tag >>> 0) << 32n;
    for (;;) {
      const old = Atomics.load(i64, at);
      const v = Number(BigInt.asIntN(32, old));
      const next = Math.min(v + n, this.#ceiling);
      const word = high | BigInt(next >>> 0);
      if (Atomics.compareExchange(i64, at, old, word) === old) break;
    }
    if (n > 0) this.#word.wake(n);
  }

  /** The tag stored with the last `postTagged` (an unsigned 32-bit number). */
  tag(): number {
    return Atomics.load(this.#page, this.#slot + 1) >>> 0;
  }

  /**
   * Waits for the value to rise above 0 (takes nothing).
   *
   * @returns true when it may have (look again), false at the deadline
   */
  wait(until: Until): Promise<boolean> {
    const v = Atomics.load(this.#page, this.#slot);
    if (v > 0) return Promise.resolve(true);
    return this.#word.changeFrom(v, until);
  }

  /**
   * Waits for the value to reach 0 (takes nothing).
   *
   * @returns true when it may have (look again), false at the deadline
   */
  waitZero(until: Until): Promise<boolean> {
    const v = Atomics.load(this.#page, this.#slot);
    if (v <= 0) return Promise.resolve(true);
    return this.#word.changeFrom(v, until);
  }
}
