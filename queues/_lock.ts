// A cross-process lock that survives the death of its holder: a word of
// shared memory holds the holder's pid (0: free). Taking the lock is one
// compare-and-swap that stores the pid, so a lock is never held by nobody in
// particular; a waiter that sees the holder is gone takes the lock over
// (another compare-and-swap: exactly one waiter wins). Waiters sleep on the
// word with a futex.

import { futexWake } from "../ffi/futex.ts";
import { isAlive, pid, yieldCpu } from "../ffi/process.ts";
import { sleepOn } from "./_util.ts";

/** Looks at a busy lock before sleeping on it. */
const SPINS = 20;

/** A lock on `page[slot]`, with its sleepers counted in `page[waiters]`. */
export class ProcessLock {
  readonly #page: Int32Array;
  readonly #slot: number;
  readonly #waiters: number;
  readonly #word: Deno.PointerValue;

  /**
   * @param page the shared page
   * @param slot the Int32 slot of the lock word
   * @param waiters the Int32 slot counting sleepers
   * @param word the address of `page[slot]`
   */
  constructor(
    page: Int32Array,
    slot: number,
    waiters: number,
    word: Deno.PointerValue,
  ) {
    this.#page = page;
    this.#slot = slot;
    this.#waiters = waiters;
    this.#word = word;
  }

  /** Takes the lock if it is free. */
  tryAcquire(): boolean {
    return Atomics.compareExchange(this.#page, this.#slot, 0, pid) === 0;
  }

  /**
   * Waits at most `ms` for the lock, sleeping on a helper thread.
   *
   * @returns whether this process now holds it
   */
  wait(ms: number): Promise<boolean> {
    if (this.tryAcquire()) return Promise.resolve(true);
    // Locks are held for microseconds: look again a few times on this
    // thread, yielding the CPU to the holder, before sleeping on a helper
    // thread (a hop of tens of microseconds).
    for (let i = 0; i < SPINS; i++) {
      yieldCpu();
      if (this.tryAcquire()) return Promise.resolve(true);
    }
    return sleepOn(
      this.#page,
      this.#slot,
      this.#waiters,
      this.#word,
      ms,
      (holder) => holder === 0 && this.tryAcquire(),
    );
  }

  /** Gives the lock back, waking one sleeper. */
  release(): void {
    Atomics.store(this.#page, this.#slot, 0);
    if (Atomics.load(this.#page, this.#waiters) > 0) futexWake(this.#word, 1);
  }

  /** The holder's pid (0: free). */
  holder(): number {
    return Atomics.load(this.#page, this.#slot);
  }

  /** Whether the lock is held by a process that no longer exists. */
  holderDead(): boolean {
    const h = this.holder();
    return h !== 0 && h !== pid && !isAlive(h);
  }

  /**
   * If the holder is dead, makes this process the holder. Exactly one of
   * several callers wins.
   *
   * @returns the dead holder's pid, or 0 if nothing was taken over
   */
  takeOverIfDead(): number {
    const h = this.holder();
    if (h === 0 || h === pid || isAlive(h)) return 0;
    return Atomics.compareExchange(this.#page, this.#slot, h, pid) === h
      ? h
      : 0;
  }
}
