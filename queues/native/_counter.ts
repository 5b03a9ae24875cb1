// A counting semaphore shared by the processes of a queue: a word of shared
// memory with a futex to sleep on. Taking and giving back `n` are single
// atomic operations, so a process killed at any moment leaves the count
// exact (a named POSIX semaphore can only be posted one at a time).

import type { Counter } from "../_transport.ts";
import type { Until } from "../wait/_until.ts";
import { SharedWord } from "../wait/_words.ts";
import type { SharedPage } from "./_layout.ts";

/** The largest value of a counter. */
export const COUNTER_MAX = 2 ** 31 - 1;
/** How often a waiter looks again with nothing woken (a dead producer's slots). */
const COUNTER_SLICE_MS = 250;

/** A counter on `page.i32[slot]`, with its sleepers counted in `page.i32[slot + 1]`. */
export class FutexCounter implements Counter {
  readonly #page: Int32Array;
  readonly #slot: number;
  readonly #word: SharedWord;

  /**
   * @param page the shared page
   * @param slot the Int32 index of the value (the next one counts sleepers)
   */
  constructor(page: SharedPage, slot: number) {
    this.#page = page.i32;
    this.#slot = slot;
    this.#word = new SharedWord(
      page.i32,
      slot,
      slot + 1,
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

  /** Gives back `n` in one step, waking up to `n` takers. */
  post(n: number): void {
    Atomics.add(this.#page, this.#slot, n);
    this.#word.wake(n);
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
