// A counting semaphore shared by the processes of a queue: a word of shared
// memory with a futex to sleep on. Taking and giving back `n` are single
// atomic operations, so a process killed at any moment leaves the count
// exact (a named POSIX semaphore can only be posted one at a time).

import { futexWake } from "../ffi/futex.ts";
import { sleepOn } from "./_util.ts";

/** The largest value of a counter. */
export const COUNTER_MAX = 2 ** 31 - 1;

/** A counter on `page[slot]`, with its sleepers counted in `page[slot + 1]`. */
export class SharedCounter {
  readonly #page: Int32Array;
  readonly #slot: number;
  readonly #word: Deno.PointerValue;
  /**
   * Runs right after every successful take, in the same synchronous step,
   * so that what a take stands for is recorded before anything can
   * interrupt (a process is only killed between steps of its own).
   */
  onTake: (n: number) => void = () => {};

  /**
   * @param page the shared page
   * @param slot the Int32 slot of the value (the next one counts sleepers)
   * @param word the address of `page[slot]`
   */
  constructor(page: Int32Array, slot: number, word: Deno.PointerValue) {
    this.#page = page;
    this.#slot = slot;
    this.#word = word;
  }

  /** Sets the value (the creator, before anyone else uses it). */
  init(value: number): void {
    Atomics.store(this.#page, this.#slot, value);
  }

  /** The current value. */
  value(): number {
    return Math.max(0, Atomics.load(this.#page, this.#slot));
  }

  /** Takes one if the value is above zero. */
  tryWait(): boolean {
    return this.tryTake(1) === 1;
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
      this.onTake(take);
      if (take === v && Atomics.load(page, this.#slot + 1) > 0) {
        futexWake(this.#word, COUNTER_MAX);
      }
      return take;
    }
  }

  /**
   * Waits at most `ms` to take one, sleeping on a helper thread.
   *
   * @returns whether one was taken
   */
  wait(ms: number): Promise<boolean> {
    if (this.tryWait()) return Promise.resolve(true);
    return sleepOn(
      this.#page,
      this.#slot,
      this.#slot + 1,
      this.#word,
      ms,
      (value) => value > 0 && this.tryWait(),
    );
  }

  /**
   * Waits at most `ms` for the value to be zero (without taking anything).
   *
   * @returns whether it was zero
   */
  waitZero(ms: number): Promise<boolean> {
    return sleepOn(
      this.#page,
      this.#slot,
      this.#slot + 1,
      this.#word,
      ms,
      (value) => value <= 0,
    );
  }

  /** Gives back `n` (default 1) in one step, waking up to `n` takers. */
  post(n = 1): void {
    const page = this.#page;
    Atomics.add(page, this.#slot, n);
    if (Atomics.load(page, this.#slot + 1) > 0) futexWake(this.#word, n);
  }
}
